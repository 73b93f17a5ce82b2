// Package static holds the dashboard's embedded assets: the vendored htmx
// and Pico CSS builds (see vendor/VERSIONS.md), the application's own
// stylesheet and script, the favicon and the icons app.css draws with.
package static

import "embed"

// FS is served under /static/: vendor/htmx.min.js, vendor/pico.keyward.min.css,
// app.css, app.js, favicon.svg and icons/*.svg. Development fixtures such as
// demo.html and the vendoring notes are not embedded.
//
//go:embed vendor/*.js vendor/*.css app.css app.js favicon.svg icons/*.svg
var FS embed.FS
