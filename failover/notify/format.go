package notify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/understudy-ha/understudy/failover"
)

// headline is a short human summary of e for a mail subject, before the
// event's own Message.
func headline(e failover.Event) string {
	node := e.Node
	if node == "" {
		node = "node"
	}
	switch e.Kind {
	case failover.EventCheckWarn:
		return node + " check failing"
	case failover.EventCheckDown:
		return node + " check down"
	case failover.EventCheckUp:
		return node + " check up"
	case failover.EventNodeDown:
		return node + " down"
	case failover.EventNodeUp:
		return node + " up"
	case failover.EventIsolated:
		return "watcher isolated"
	case failover.EventWitnessOK:
		return "watcher connected again"
	case failover.EventNoHealthyNode:
		return "no healthy node"
	case failover.EventHeldDown:
		return "switch held down"
	case failover.EventFailbackPending:
		return "failback pending"
	case failover.EventSwitchIntended:
		return "switching " + arrow(e.From, e.To)
	case failover.EventSwitchResumed:
		return "resuming switch " + arrow(e.From, e.To)
	case failover.EventSwitchDone:
		return "switched " + arrow(e.From, e.To)
	case failover.EventSwitchFailed:
		return "switch failed " + arrow(e.From, e.To)
	case failover.EventStateReset:
		return "state reset"
	default:
		return string(e.Kind)
	}
}

func arrow(from, to string) string {
	switch {
	case from == "" && to == "":
		return ""
	case from == "":
		return "to " + to
	default:
		return from + " -> " + to
	}
}

// subject is headline(e) and the event's message, on one line.
func subject(prefix string, e failover.Event) string {
	s := strings.TrimSpace(headline(e))
	if e.Message != "" {
		s += ": " + e.Message
	} else if e.Check != "" {
		s += ": " + e.Check
	}
	if prefix != "" {
		s = prefix + " " + s
	}
	return oneLine(s)
}

// oneLine makes s safe for a header or an environment-free single line:
// every control character (CR, LF, NUL, TAB…) becomes a space, runs of
// spaces collapse, invalid UTF-8 is replaced.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// bodyText renders e as a readable block followed by its JSON, with "\n"
// line ends.
func bodyText(e failover.Event, host string) (string, error) {
	js, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode event: %w", err)
	}
	var b strings.Builder
	if e.Message != "" {
		b.WriteString(multiLine(e.Message, ""))
		b.WriteString("\n\n")
	}
	field := func(name, value string) {
		if value == "" {
			return
		}
		fmt.Fprintf(&b, "%-9s %s\n", name+":", multiLine(value, strings.Repeat(" ", 10)))
	}
	field("Event", string(e.Kind))
	if !e.Time.IsZero() {
		field("Time", e.Time.Format(time.RFC3339))
	}
	field("Node", e.Node)
	field("Check", e.Check)
	field("From", e.From)
	field("To", e.To)
	if e.Fails != 0 {
		field("Fails", strconv.Itoa(e.Fails))
	}
	field("Error", e.Err)
	field("Sent by", "understudy on "+host)
	b.WriteString("\nThe event as JSON:\n")
	b.Write(js)
	b.WriteString("\n")
	return b.String(), nil
}

// multiLine normalises line ends to "\n" and indents continuation lines.
func multiLine(s, indent string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}
