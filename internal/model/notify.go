package model

import (
	"slices"
	"strings"
	"time"
)

// Event types: what the outbox carries and webhook endpoints subscribe to.
// Key and member types are also the audit actions of the same changes.
const (
	EventKeyCreated  = ActionKeyCreated
	EventKeyUpdated  = ActionKeyUpdated
	EventKeyRolled   = "api_key.rolled"
	EventKeyRevoked  = ActionKeyRevoked
	EventKeyDeleted  = ActionKeyDeleted
	EventKeyExpiring = "api_key.expiring"
	EventKeyExpired  = "api_key.expired"
	EventKeyLeaked   = "api_key.leaked"
	// EventKeyRotationDue is a team's digest of the keys due for rotation
	// under its policy, at most once a week.
	EventKeyRotationDue = "api_key.rotation_due"

	EventMemberAdded       = ActionMemberAdded
	EventMemberRoleChanged = ActionMemberRoleChanged
	EventMemberRemoved     = ActionMemberRemoved

	EventEndpointCreated  = "webhook_endpoint.created"
	EventEndpointUpdated  = "webhook_endpoint.updated"
	EventEndpointRotated  = "webhook_endpoint.secret_rotated"
	EventEndpointDeleted  = "webhook_endpoint.deleted"
	EventEndpointDisabled = "webhook_endpoint.disabled"
	// EventEndpointTest is the "Send test event" event: delivered to the one
	// endpoint it was sent to, never fanned out.
	EventEndpointTest = "webhook_endpoint.test"
)

// EventTypes lists every type an endpoint may subscribe to, in the order the
// dashboard offers them.
var EventTypes = []string{
	EventKeyCreated, EventKeyUpdated, EventKeyRolled, EventKeyRevoked, EventKeyDeleted,
	EventKeyExpiring, EventKeyExpired, EventKeyRotationDue, EventKeyLeaked,
	EventMemberAdded, EventMemberRoleChanged, EventMemberRemoved,
	EventEndpointCreated, EventEndpointUpdated, EventEndpointRotated, EventEndpointDeleted, EventEndpointDisabled,
}

// IsEventType reports whether t is an event the outbox carries: a known
// type, or any api_key.*, member.* or webhook_endpoint.* action.
func IsEventType(t string) bool {
	return strings.HasPrefix(t, "api_key.") || strings.HasPrefix(t, "member.") || strings.HasPrefix(t, "webhook_endpoint.")
}

// ValidEventFilter reports whether f may be in an endpoint's list: "*", a
// known type, or a family wildcard ("api_key.*", "member.*", "webhook_endpoint.*").
func ValidEventFilter(f string) bool {
	switch f {
	case "*", "api_key.*", "member.*", "webhook_endpoint.*":
		return true
	}
	return slices.Contains(EventTypes, f)
}

// Event is one entry of the outbox.
type Event struct {
	ID           int64
	PublicID     string // evt_…
	TeamID       int64
	Type         string
	TargetID     string
	Payload      string // JSON object: the event's data, never a secret
	CreatedAt    time.Time
	DispatchedAt *time.Time
}

// TableName tells GORM the table of Event.
func (Event) TableName() string { return "events" }

// WebhookEndpoint is a team's webhook receiver. Secret and OldSecret are
// sealed (AES-256-GCM) under the keys named by their key ids; the raw
// whsec_ secret is shown once, when made.
type WebhookEndpoint struct {
	ID                 int64
	PublicID           string // we_…
	TeamID             int64
	URL                string `gorm:"column:url"`
	Description        string
	EventTypes         []string `gorm:"serializer:json"`
	Enabled            bool
	Secret             string `json:"-"`
	SecretKeyID        string `json:"-"`
	OldSecret          string `json:"-"`
	OldSecretKeyID     string `json:"-"`
	OldSecretExpiresAt *time.Time
	FailingSince       *time.Time
	DisabledReason     string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// TableName tells GORM the table of WebhookEndpoint.
func (WebhookEndpoint) TableName() string { return "webhook_endpoints" }

// Wants reports whether the endpoint subscribes to events of type t. An
// empty list means every event.
func (e WebhookEndpoint) Wants(t string) bool {
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, f := range e.EventTypes {
		if f == "*" || f == t {
			return true
		}
		if prefix, ok := strings.CutSuffix(f, "*"); ok && strings.HasPrefix(t, prefix) {
			return true
		}
	}
	return false
}

// Delivery kinds and statuses.
const (
	DeliveryWebhook = "webhook"
	DeliveryEmail   = "email"

	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Delivery is one event sent to one destination, with its attempts.
type Delivery struct {
	ID             int64
	EventID        int64
	TeamID         int64
	EndpointID     *int64
	Kind           string
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	LastAttemptAt  *time.Time
	ResponseStatus int
	ResponseMS     int `gorm:"column:response_ms"`
	LastError      string
	CreatedAt      time.Time

	// Filled by the store's Find methods.
	Event Event `gorm:"-"`
}

// TableName tells GORM the table of Delivery.
func (Delivery) TableName() string { return "deliveries" }

// DeliveryJob is a claimed delivery with what sending it needs.
type DeliveryJob struct {
	Delivery Delivery
	Event    Event
	// Endpoint is set for webhook deliveries.
	Endpoint *WebhookEndpoint
}

// DeliveryResult is the outcome of one attempt.
type DeliveryResult struct {
	OK             bool
	ResponseStatus int
	Duration       time.Duration
	Error          string
	// NextAttemptAt is when to try again after a failure; nil gives up.
	NextAttemptAt *time.Time
}

// Reminder recipients: the owners and admins of a team who want reminders.
type Recipient struct {
	UserID int64
	Email  string
	Role   Role
	// RemindersOff: the person turned expiry and rotation reminders off.
	RemindersOff bool
}
