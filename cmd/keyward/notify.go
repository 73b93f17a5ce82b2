package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/secretbox"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/web"
)

// startNotify starts the delivery worker and the expiry scanner and returns
// a function that stops them, waiting for attempts in flight.
func startNotify(ctx context.Context, cfg *config.Config, st *store.Store, srv *web.Server, log *slog.Logger) (func(), error) {
	var box *secretbox.Box
	if len(cfg.EncryptionKey) > 0 {
		var err error
		if box, err = secretbox.New(cfg.EncryptionKey); err != nil {
			return nil, err
		}
	} else if n, err := st.CountSecrets(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, errors.New("KEYWARD_ENCRYPTION_KEY: required with PostgreSQL once webhook endpoints exist (the key that sealed their secrets)")
	}
	mailer, err := notify.NewSMTPMailer(cfg.SMTPURL, cfg.MailFrom)
	if err != nil {
		return nil, errors.New("KEYWARD_SMTP_URL: " + err.Error())
	}
	o := notify.Options{Logger: log, Box: box, BaseURL: cfg.BaseURL, AllowPrivate: cfg.WebhookAllowPrivate, Registerer: srv.Registry()}
	if mailer != nil {
		o.Mailer = mailer
	}
	w, err := notify.NewWorker(st, o)
	if err != nil {
		return nil, err
	}
	sc := notify.NewScanner(st, log)
	nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}, 2)
	go func() { w.Run(nctx); done <- struct{}{} }()
	go func() { sc.Run(nctx); done <- struct{}{} }()
	if cfg.WebhookAllowPrivate {
		log.Warn("webhooks may reach loopback and private addresses (KEYWARD_WEBHOOK_ALLOW_PRIVATE=true)")
	}
	if mailer == nil {
		log.Info("e-mail is off (KEYWARD_SMTP_URL unset): reminders show in the dashboard and as events")
	}
	return func() { cancel(); <-done; <-done }, nil
}
