package notify_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/understudy-ha/understudy/failover"
	"github.com/understudy-ha/understudy/failover/notify"
)

// The articles' `mutt -x -e "set smtp_url=smtp://10.6.6.6"`, mailing the
// admin only about what the articles mailed about.
func ExampleNewMail() {
	m, err := notify.NewMail(notify.MailConfig{
		Server: "10.6.6.6", // port 25
		From:   "Understudy <understudy@my.com>",
		To:     []string{"admin@my.com"},
		// Username: "understudy", Password: os.Getenv("SMTP_PASSWORD"),
	})
	if err != nil {
		log.Fatal(err)
	}
	n := notify.Filter(m, notify.DefaultMailKinds()...)
	err = n.Notify(context.Background(), failover.Event{
		Time:    time.Now(),
		Kind:    failover.EventCheckDown,
		Node:    "primary",
		Check:   "primary/http",
		Fails:   3,
		Message: `check "primary/http" down after 3 failures`,
	})
	if err != nil {
		log.Print(err)
	}
}

// Message shows what will be sent without sending it.
func ExampleMail_Message() {
	m, err := notify.NewMail(notify.MailConfig{
		Server:   "10.6.6.6",
		From:     "understudy@my.com",
		To:       []string{"admin@my.com"},
		Hostname: "arbiter.my.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	msg, err := m.Message(failover.Event{
		Kind: failover.EventSwitchDone, From: "primary", To: "standby",
		Message: "traffic moved to standby",
	})
	if err != nil {
		log.Fatal(err)
	}
	for line := range strings.SplitSeq(string(msg), "\r\n") {
		if strings.HasPrefix(line, "Subject:") || strings.HasPrefix(line, "Auto-Submitted:") {
			fmt.Println(line)
		}
	}
	// Output:
	// Subject: [understudy] switched primary -> standby: traffic moved to standby
	// Auto-Submitted: auto-generated
}

// A signed webhook. The receiver checks the X-Understudy-Signature header
// against notify.Sign(secret, body).
func ExampleNewWebhook() {
	w, err := notify.NewWebhook(notify.WebhookConfig{
		URL:    "https://hooks.example.com/understudy",
		Secret: os.Getenv("UNDERSTUDY_WEBHOOK_SECRET"),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Notify(context.Background(), failover.Event{Kind: failover.EventSwitchDone, From: "primary", To: "standby"}); err != nil {
		log.Print(err)
	}
}

// A hook program gets the event in UNDERSTUDY_* variables and as JSON on
// stdin. Here logger(1) writes the JSON to syslog.
func ExampleNewHook() {
	h, err := notify.NewHook(notify.HookConfig{
		Command: []string{"logger", "-t", "understudy"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := h.Notify(context.Background(), failover.Event{Kind: failover.EventNodeDown, Node: "primary"}); err != nil {
		log.Print(err)
	}
}

func ExampleHookEnv() {
	for _, kv := range notify.HookEnv(failover.Event{Kind: failover.EventSwitchDone, From: "primary", To: "standby"})[:5] {
		fmt.Println(kv)
	}
	// Output:
	// UNDERSTUDY_EVENT=switch_done
	// UNDERSTUDY_NODE=
	// UNDERSTUDY_CHECK=
	// UNDERSTUDY_FROM=primary
	// UNDERSTUDY_TO=standby
}

// Mail about the important events, send every event to a webhook.
func ExampleMulti() {
	m, err := notify.NewMail(notify.MailConfig{Server: "10.6.6.6", From: "understudy@my.com", To: []string{"admin@my.com"}})
	if err != nil {
		log.Fatal(err)
	}
	w, err := notify.NewWebhook(notify.WebhookConfig{URL: "https://hooks.example.com/understudy"})
	if err != nil {
		log.Fatal(err)
	}
	var n failover.Notifier = notify.Multi(notify.Filter(m, notify.DefaultMailKinds()...), w)
	_ = n // give n to the arbiter
}
