package views

import "context"

type assetsKey struct{}

// WithAssetURLs returns ctx carrying the URLs the pages use for the
// embedded assets: each plain name ("app.css") to its content-hashed URL.
func WithAssetURLs(ctx context.Context, urls map[string]string) context.Context {
	return context.WithValue(ctx, assetsKey{}, urls)
}

// assetURL is the URL of the asset named name: its content-hashed URL when
// ctx carries one, else its plain URL.
func assetURL(ctx context.Context, name string) string {
	if urls, ok := ctx.Value(assetsKey{}).(map[string]string); ok {
		if u, ok := urls[name]; ok {
			return u
		}
	}
	return "/static/" + name
}
