// Package migrations embeds keyward's versioned SQL migrations, one folder
// per dialect. Files are append-only: a change to the schema is a new file.
package migrations

import "embed"

// FS holds postgres/NNNN_name.sql and sqlite/NNNN_name.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
