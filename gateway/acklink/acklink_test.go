package acklink

import (
	"strings"
	"testing"
	"time"

	"github.com/pagerd/pagerd/policy"
)

// fixedNow is the tests' clock.
var fixedNow = time.Date(2025, 9, 10, 6, 0, 0, 0, time.UTC)

func TestSignAndVerifyLink(t *testing.T) {
	secret := policy.Secret("0123456789abcdef0123456789abcdef")
	exp := fixedNow.Add(time.Hour)
	tok := Sign(secret, "0a-abc", "ann", exp)
	if inc, user, err := Verify(secret, tok, fixedNow); err != nil || inc != "0a-abc" || user != "ann" {
		t.Fatalf("verify: %q %q %v", inc, user, err)
	}
	forged := Sign(policy.Secret("another-secret-of-enough-length"), "0a-abc", "ann", exp)
	p, m, _ := strings.Cut(tok, ".")
	other, _, _ := strings.Cut(Sign(secret, "0a-xyz", "ann", exp), ".")
	for name, bad := range map[string]string{
		"expired":              "",
		"forged":               forged,
		"another incident":     other + "." + m,
		"truncated":            p,
		"garbage":              "!!!.???",
		"empty":                "",
		"signature of another": p + "." + strings.Split(forged, ".")[1],
	} {
		t.Run(name, func(t *testing.T) {
			now := fixedNow
			if name == "expired" {
				bad, now = tok, exp
			}
			if _, _, err := Verify(secret, bad, now); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, _, err := Verify("", tok, fixedNow); err == nil {
		t.Fatal("no secret configured must accept no link")
	}
}

// TestReceiptTokenIsNotALink: a Pushover receipt token and an ack link are
// signed with one secret; the receipt is never taken as a link, and the
// receipt callback takes both (links made receipts before receipts had a
// version of their own), and receipts signed before they carried the
// incident's reopen count, which then is not known.
func TestReceiptTokenIsNotALink(t *testing.T) {
	secret := policy.Secret("receipt-test-secret-0123456789")
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	receipt := SignReceipt(secret, "inc1", "ann", 2, now.Add(time.Hour))
	if _, _, err := Verify(secret, receipt, now); err == nil {
		t.Fatal("a receipt token verified as an ack link")
	}
	if r, err := VerifyReceipt(secret, receipt, now); err != nil || r != (Receipt{Target: "inc1", User: "ann", Reopened: 2, ReopenedKnown: true}) {
		t.Fatalf("receipt: %+v %v", r, err)
	}
	link := Sign(secret, "inc1", "ann", now.Add(time.Hour))
	if r, err := VerifyReceipt(secret, link, now); err != nil || r != (Receipt{Target: "inc1", User: "ann"}) {
		t.Fatalf("link as a receipt: %+v %v", r, err)
	}
	old := sign(secret, receiptV1, "inc1", "ann", now.Add(time.Hour))
	if r, err := VerifyReceipt(secret, old, now); err != nil || r != (Receipt{Target: "inc1", User: "ann"}) {
		t.Fatalf("a receipt signed before the reopen count: %+v %v", r, err)
	}
	if _, err := VerifyReceipt(secret, receipt, now.Add(time.Hour)); err == nil {
		t.Fatal("an expired receipt verified")
	}
}

// TestPageLinkCarriesTheReopenCount: the link in a page carries the
// incident's reopen count when the page went out, so its Acknowledge
// answers that page; a link signed before links carried it does not
// know it. A page's link is no receipt, nor a receipt a link.
func TestPageLinkCarriesTheReopenCount(t *testing.T) {
	secret := policy.Secret("page-link-test-secret-0123456789")
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	link := SignPage(secret, "inc1", "ann", 3, now.Add(time.Hour))
	if l, err := VerifyLink(secret, link, now); err != nil || l != (Receipt{Target: "inc1", User: "ann", Reopened: 3, ReopenedKnown: true}) {
		t.Fatalf("page link: %+v %v", l, err)
	}
	if inc, user, err := Verify(secret, link, now); err != nil || inc != "inc1" || user != "ann" {
		t.Fatalf("page link through Verify: %q %q %v", inc, user, err)
	}
	if l, err := VerifyLink(secret, Sign(secret, "inc1", "ann", now.Add(time.Hour)), now); err != nil || l.ReopenedKnown {
		t.Fatalf("a link without the count: %+v %v", l, err)
	}
	if _, err := VerifyReceipt(secret, link, now); err == nil {
		t.Fatal("a page's link verified as a receipt")
	}
	if _, err := VerifyLink(secret, SignReceipt(secret, "inc1", "ann", 3, now.Add(time.Hour)), now); err == nil {
		t.Fatal("a receipt verified as a page's link")
	}
	if _, err := VerifyLink(secret, link, now.Add(time.Hour)); err == nil {
		t.Fatal("an expired page link verified")
	}
}
