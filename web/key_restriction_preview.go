package web

import (
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleRestrictionPreview serves POST /settings/api-keys/restrictions/preview
// (htmx, from the create and edit forms as the user types): the
// Restrictions section's preview sentence ("At most 100 requests per
// minute, from 10.0.0.0/8."), or the first problem with what is typed. It
// changes nothing.
func (s *Server) handleRestrictionPreview(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		return err
	}
	v := parseKeyForm(c.Request().PostForm, s.catalog, s.now(), true).Values
	var p views.RestrictionPreview
	if r, err := parseRestrictionForm(v); err != nil {
		p.Problem = model.ErrorMessage(err)
	} else {
		p.Sentence = r.Describe()
	}
	return render(c, 200, views.RestrictionPreviewLine(p))
}
