package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// statusOf maps an error to its HTTP status: the one place codes become statuses.
func statusOf(err error) int {
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		return he.Code
	}
	switch model.ErrorCode(err) {
	case model.EINVALID:
		return http.StatusUnprocessableEntity
	case model.ENOTFOUND:
		return http.StatusNotFound
	case model.ECONFLICT:
		return http.StatusConflict
	case model.EFORBIDDEN:
		return http.StatusForbidden
	case model.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case model.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case model.ETOOMANY:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// statusClientClosedRequest is the status logged and counted for a request
// whose client went away before it was answered (as nginx logs it): the
// error behind it (often a database query cut short, which the store
// reports as unavailable) is the client's leaving, not a fault of the
// server or of its database.
const statusClientClosedRequest = 499

// clientGone reports whether the request's client has gone away: its
// context is canceled, which net/http does when the connection closes.
func clientGone(c echo.Context) bool {
	return errors.Is(c.Request().Context().Err(), context.Canceled)
}

// errorStatus is the status a request that ended in err is logged and
// counted with: statusOf(err), or statusClientClosedRequest when the
// client went away.
func errorStatus(c echo.Context, err error) int {
	if clientGone(c) {
		return statusClientClosedRequest
	}
	return statusOf(err)
}

// abandoned ends a request whose client went away: nothing is told to
// anyone (there is no one to answer, and the database is not down), the
// error is logged at debug level, and the status is recorded as
// statusClientClosedRequest.
func (s *Server) abandoned(c echo.Context, err error) {
	s.logger(c).Debug("request abandoned: the client went away", "err", err)
	c.Response().WriteHeader(statusClientClosedRequest)
}

// codedError is an error that names its own API error code.
type codedError interface {
	error
	APICode() string
}

// apiCode is the machine-readable code in API error bodies. An error may
// name its own (web/api_auth.go: invalid_api_key, insufficient_scope).
func apiCode(status int, err error) string {
	if coded, ok := errors.AsType[codedError](err); ok {
		return coded.APICode()
	}
	if me, ok := errors.AsType[*model.Error](err); ok {
		switch me.Code {
		case model.EINVALID:
			return "invalid_request"
		case model.EINTERNAL:
			return "internal_error"
		}
		return me.Code
	}
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return "internal_error"
}

// userMessage is what people are told about err.
func userMessage(status int, err error) string {
	if me, ok := errors.AsType[*model.Error](err); ok && me.Code != model.EINTERNAL && me.Message != "" {
		return me.Message
	}
	if he, ok := errors.AsType[*echo.HTTPError](err); ok && status < 500 {
		if m, ok := he.Message.(string); ok && m != "" {
			return m
		}
	}
	switch status {
	case http.StatusNotFound:
		return "We couldn't find that page. It may have been deleted, or the link is wrong."
	case http.StatusForbidden:
		return "You don't have access to this page. Ask a team owner or admin if you need it."
	case http.StatusServiceUnavailable:
		return "keyward can't reach its database right now. Your data is safe; please try again in a moment."
	case http.StatusTooManyRequests:
		return "Too many attempts. Please wait a little and try again."
	}
	if status >= 500 {
		return "Something went wrong on our side. It has been logged; please try again."
	}
	return http.StatusText(status)
}

// APIError is the body of every /v1 error.
type APIError struct {
	Error APIErrorBody `json:"error"`
}

// APIErrorBody carries a stable code, a message for people, and the request id.
type APIErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// writeAPIError writes e as c.JSON writes APIError{e}, appended by hand
// into a pooled buffer: error answers are what a flood of bad keys is
// sent, so they should cost little more than the check that refused them.
// ?pretty, which Echo's JSON answers honour, goes through c.JSON.
func writeAPIError(c echo.Context, status int, e APIErrorBody) error {
	if prettyJSON(c) {
		return c.JSON(status, APIError{Error: e})
	}
	bp := jsonBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"error":{"code":`...)
	b = appendJSONString(b, e.Code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.Message)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, e.RequestID)
	b = append(b, "}}\n"...)
	err := writeJSON(c, status, b)
	*bp = b
	jsonBufs.Put(bp)
	return err
}

// handleError is the single error pipeline: JSON for /v1, a fragment for
// htmx, a friendly page otherwise. Internal errors are logged, not shown.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if clientGone(c) {
		s.abandoned(c, err)
		return
	}
	status := statusOf(err)
	switch {
	case model.ErrorCode(err) == model.EUNAVAILABLE:
		// Logged once per outage, not per request (web/outage.go).
		s.outage.refuse(c, err)
	case status >= 500:
		s.logger(c).Error("request failed", "status", status, "err", err)
	}
	msg := userMessage(status, err)
	if status == http.StatusTooManyRequests {
		if ra := c.Response().Header().Get("Retry-After"); ra == "" {
			c.Response().Header().Set("Retry-After", "60")
		}
	}
	var werr error
	switch {
	case isAPI(c):
		// HEAD gets GET's headers (net/http drops the body).
		werr = writeAPIError(c, status, APIErrorBody{Code: apiCode(status, err), Message: msg, RequestID: requestIDOf(c)})
	case isHTMX(c):
		// htmx does not swap error responses by default; the page's
		// response-handling config swaps them into the notice area named here.
		c.Response().Header().Set("HX-Retarget", "#flash")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		werr = render(c, status, views.Notice("error", msg))
	default:
		werr = render(c, status, views.ErrorPage(s.chrome(c, ""), status, http.StatusText(status), msg))
	}
	if werr != nil {
		s.logger(c).Warn("writing error response", "err", werr)
	}
}
