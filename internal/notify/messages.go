package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// MailTypes are the event types that e-mail the team's owners and admins.
var MailTypes = map[string]bool{
	model.EventKeyExpiring:      true,
	model.EventKeyExpired:       true,
	model.EventKeyRotationDue:   true,
	model.EventKeyLeaked:        true,
	model.EventEndpointDisabled: true,
}

// IsReminder reports whether events of type t are reminders, which each
// person may turn off (alerts such as a leaked key always go out).
func IsReminder(t string) bool {
	return t == model.EventKeyExpiring || t == model.EventKeyExpired || t == model.EventKeyRotationDue
}

// eventData is the part of an event payload the e-mails read.
type eventData struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Hint      string `json:"hint"`
	ExpiresAt string `json:"expires_at"`
	Threshold string `json:"threshold"`
	URL       string `json:"url"`
	Source    string `json:"source"`
	Reason    string `json:"reason"`
	// Detail is the audit detail of events written with an audited change
	// (api_key.leaked from the leak handler): the same fields, nested.
	Detail struct {
		Hint      string `json:"hint"`
		ExpiresAt string `json:"expires_at"`
		URL       string `json:"url"`
		Source    string `json:"source"`
	} `json:"detail"`
	// The rotation digest (api_key.rotation_due): the policy, how many
	// keys are due, and the first of them.
	RotationDays int `json:"rotation_days"`
	Count        int `json:"count"`
	Keys         []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Hint    string `json:"hint"`
		AgeDays int    `json:"age_days"`
	} `json:"keys"`
}

// mailView is what the HTML template shows.
type mailView struct {
	Heading string
	Lines   []string
	// Items is a list of links after the lines (the keys of a digest),
	// and After the paragraphs that follow it.
	Items  []mailItem
	After  []string
	Link   string
	Action string
	Team   string
}

// mailItem is one linked entry of a list in a mail.
type mailItem struct {
	Label string
	Note  string
	Link  string
}

var mailHTML = template.Must(template.New("mail").Parse(`<!doctype html>
<html><body style="font-family:system-ui,sans-serif;color:#1f2328;max-width:36rem">
<h2 style="font-size:1.1rem">{{.Heading}}</h2>
{{range .Lines}}<p>{{.}}</p>{{end}}
{{if .Items}}<ul>{{range .Items}}<li><a href="{{.Link}}">{{.Label}}</a> {{.Note}}</li>{{end}}</ul>{{end}}
{{range .After}}<p>{{.}}</p>{{end}}
{{if .Link}}<p><a href="{{.Link}}" style="display:inline-block;padding:.5rem 1rem;background:#1f6feb;color:#fff;border-radius:6px;text-decoration:none">{{.Action}}</a></p>
<p style="font-size:.85rem;color:#59636e">Or open {{.Link}}</p>{{end}}
<p style="font-size:.8rem;color:#59636e">Sent by keyward to the owners and admins of {{.Team}}. Turn expiry and rotation reminders off in Settings → Account.</p>
</body></html>`))

// ComposeEventMail returns the e-mail for an event of one of MailTypes, to
// the given addresses. Links point into the dashboard at baseURL. The mail
// names keys by name, id and hint only: never a raw key or a secret.
func ComposeEventMail(ev model.Event, teamName, baseURL string, to []string) (Message, error) {
	var d eventData
	if err := json.Unmarshal([]byte(ev.Payload), &d); err != nil {
		return Message{}, fmt.Errorf("event %s: %w", ev.PublicID, err)
	}
	for _, f := range []struct {
		top    *string
		nested string
	}{
		{&d.Hint, d.Detail.Hint}, {&d.ExpiresAt, d.Detail.ExpiresAt}, {&d.URL, d.Detail.URL}, {&d.Source, d.Detail.Source},
	} {
		if *f.top == "" {
			*f.top = f.nested
		}
	}
	base := strings.TrimRight(baseURL, "/")
	keyLink := base + "/settings/api-keys/" + url.PathEscape(d.ID)
	v := mailView{Team: teamName, Link: keyLink, Action: "Open the key"}
	var subject string
	when := ""
	if t, err := time.Parse(time.RFC3339, d.ExpiresAt); err == nil {
		when = t.UTC().Format("Mon 2 Jan 2006 15:04 UTC")
	}
	keyLine := fmt.Sprintf("Key: %s (%s, %s) in team %s.", d.Name, d.ID, d.Hint, teamName)
	switch ev.Type {
	case model.EventKeyExpiring:
		in := "7 days"
		if d.Threshold == "1d" {
			in = "1 day"
		}
		subject = fmt.Sprintf("[keyward] API key %q expires in %s", d.Name, in)
		v.Heading = fmt.Sprintf("The API key %q expires in %s", d.Name, in)
		v.Lines = []string{keyLine, "It stops working on " + when + ". Roll it or set a later expiry before then so calls using it keep working."}
	case model.EventKeyExpired:
		subject = fmt.Sprintf("[keyward] API key %q expired", d.Name)
		v.Heading = fmt.Sprintf("The API key %q expired", d.Name)
		v.Lines = []string{keyLine, "It expired on " + when + ": calls using it are refused. Set a new expiry to make it work again, or create a new key."}
	case model.EventKeyLeaked:
		subject = fmt.Sprintf("[keyward] API key %q was found in public", d.Name)
		v.Heading = fmt.Sprintf("The API key %q was found in public", d.Name)
		v.Lines = []string{keyLine}
		if d.URL != "" {
			v.Lines = append(v.Lines, "Where: "+d.URL)
		}
		if d.Source != "" {
			v.Lines = append(v.Lines, "Reported by: "+d.Source)
		}
		v.Lines = append(v.Lines, "Check the key's page for what keyward did (revoked, or only reported, as the team's leak setting says) and replace it in your apps.")
	case model.EventKeyRotationDue:
		keys := "keys are"
		if d.Count == 1 {
			keys = "key is"
		}
		subject = fmt.Sprintf("[keyward] %d API %s due for rotation in %s", d.Count, keys, teamName)
		v.Heading = fmt.Sprintf("%d API %s due for rotation", d.Count, keys)
		v.Lines = []string{fmt.Sprintf("Team %s asks for keys to be rotated every %d days. These active keys are older than that and were not rolled yet:", teamName, d.RotationDays)}
		for _, k := range d.Keys {
			age := fmt.Sprintf("%d days old", k.AgeDays)
			if k.AgeDays == 1 {
				age = "1 day old"
			}
			v.Items = append(v.Items, mailItem{Label: k.Name, Note: fmt.Sprintf("(%s, %s): %s", k.ID, k.Hint, age),
				Link: base + "/settings/api-keys/" + url.PathEscape(k.ID)})
		}
		if more := d.Count - len(d.Keys); more > 0 {
			v.After = append(v.After, fmt.Sprintf("These are the %d oldest of %d; the dashboard lists them all.", len(d.Keys), d.Count))
		}
		v.After = append(v.After, "Roll each key (⋯ → Roll key…), update your apps with the new key, and let the old one run out at the end of the grace window. This digest comes at most once a week while keys are due.")
		v.Link, v.Action = base+"/settings/api-keys?hygiene="+store.HygieneRotationDue, "Review the keys due for rotation"
	case model.EventEndpointDisabled:
		subject = "[keyward] Webhook endpoint disabled: " + d.URL
		v.Heading = "A webhook endpoint was disabled"
		v.Lines = []string{"Endpoint: " + d.URL + " in team " + teamName + ".", d.Reason, "keyward stopped sending to it. Fix the receiver, then enable the endpoint again in Settings → Webhooks."}
		v.Link, v.Action = base+"/settings/webhooks/"+url.PathEscape(d.ID), "Open the endpoint"
	default:
		return Message{}, fmt.Errorf("no e-mail for events of type %s", ev.Type)
	}
	var text strings.Builder
	text.WriteString(v.Heading + "\n\n")
	for _, l := range v.Lines {
		text.WriteString(l + "\n\n")
	}
	for _, it := range v.Items {
		text.WriteString("- " + it.Label + " " + it.Note + "\n  " + it.Link + "\n\n")
	}
	for _, l := range v.After {
		text.WriteString(l + "\n\n")
	}
	text.WriteString(v.Action + ": " + v.Link + "\n\n")
	text.WriteString("-- \nSent by keyward to the owners and admins of " + teamName + ". Turn expiry and rotation reminders off in Settings → Account: " + base + "/settings/account\n")
	var html bytes.Buffer
	if err := mailHTML.Execute(&html, v); err != nil {
		return Message{}, err
	}
	return Message{To: to, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}
