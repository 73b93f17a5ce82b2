// Package model holds keyward's domain types, roles, permissions, key status
// and the one coded error type every layer speaks.
package model

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Error codes. Handlers map them to HTTP statuses in one place.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EFORBIDDEN    = "forbidden"
	EUNAUTHORIZED = "unauthorized"
	EUNAVAILABLE  = "unavailable"
	ETOOMANY      = "too_many_requests"
)

// Error is keyward's coded error. Message is safe to show to users; Fields
// carries per-field validation messages keyed by form field name.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and message that wraps err.
func Wrap(code string, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// FieldErrors collects validation messages by field while a form or request
// body is checked.
type FieldErrors map[string]string

// Add records msg for field unless the field already has a message.
func (f FieldErrors) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// Err returns nil when there are no messages, else an EINVALID *Error whose
// message lists the first problem (in field order) and whose Fields holds all.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(f))
	return &Error{Code: EINVALID, Message: f[keys[0]], Fields: maps.Clone(f)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	// errors.AsType, unlike errors.As, costs no allocation: this runs
	// several times on every refused request.
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err, or a generic one for
// errors that are not an *Error.
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok && e.Message != "" {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}

// ErrorFields returns the per-field messages of err, or nil.
func ErrorFields(err error) map[string]string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Fields
	}
	return nil
}
