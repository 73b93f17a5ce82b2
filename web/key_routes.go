package web

import "github.com/labstack/echo/v4"

// keyRoutes registers Settings → API Keys, OWNER and ADMIN only; every
// handler scopes its queries to the current team.
//
//	GET    /settings/api-keys              handleKeyList
//	GET    /settings/api-keys/new          handleKeyNew
//	GET    /settings/api-keys/leaked       handleKeyLeakedForm
//	POST   /settings/api-keys/leaked       handleKeyLeaked
//	POST   /settings/api-keys/leaked/acknowledge  handleKeyLeaksAcknowledge
//	POST   /settings/api-keys              handleKeyCreate
//	GET    /settings/api-keys/:id          handleKeyShow
//	GET    /settings/api-keys/:id/edit     handleKeyEdit
//	POST   /settings/api-keys/:id          handleKeyUpdate
//	GET    /settings/api-keys/:id/revoke   handleKeyRevokeConfirm
//	POST   /settings/api-keys/:id/revoke   handleKeyRevoke
//	GET    /settings/api-keys/:id/roll     handleKeyRollConfirm
//	POST   /settings/api-keys/:id/roll     handleKeyRoll
//	GET    /settings/api-keys/:id/delete   handleKeyDeleteConfirm
//	POST   /settings/api-keys/:id/delete   handleKeyDelete
//	DELETE /settings/api-keys/:id          handleKeyDelete
//	POST   /settings/api-keys/restrictions/preview  handleRestrictionPreview
func (s *Server) keyRoutes(e *echo.Echo) {
	s.keyForms = newFormTokens()
	g := e.Group("/settings/api-keys", s.requireManager)
	g.GET("", s.handleKeyList)
	g.GET("/new", s.handleKeyNew)
	g.POST("", s.handleKeyCreate)
	g.GET("/leaked", s.handleKeyLeakedForm)
	g.POST("/leaked", s.handleKeyLeaked)
	g.POST("/leaked/acknowledge", s.handleKeyLeaksAcknowledge)
	g.GET("/:id", s.handleKeyShow)
	g.GET("/:id/edit", s.handleKeyEdit)
	g.POST("/:id", s.handleKeyUpdate)
	g.GET("/:id/revoke", s.handleKeyRevokeConfirm)
	g.POST("/:id/revoke", s.handleKeyRevoke)
	g.GET("/:id/roll", s.handleKeyRollConfirm)
	g.POST("/:id/roll", s.handleKeyRoll)
	g.GET("/:id/delete", s.handleKeyDeleteConfirm)
	g.POST("/:id/delete", s.handleKeyDelete)
	g.DELETE("/:id", s.handleKeyDelete)
	g.POST("/restrictions/preview", s.handleRestrictionPreview)
}
