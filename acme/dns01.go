package acme

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
)

// DNS01Record returns the TXT record value that proves keyAuth for dns-01:
// base64url(SHA-256(keyAuth)) without padding (RFC 8555 §8.4).
func DNS01Record(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ValidateDNS01 looks up the TXT records of _acme-challenge.<ident> (a
// wildcard's "*." left off) and checks that one of them is
// DNS01Record(keyAuth) (RFC 8555 §8.4). Only dns identifiers can be
// validated this way (RFC 8738 §7).
func (v *Validator) ValidateDNS01(ctx context.Context, ident Identifier, keyAuth string) error {
	if ident.Type != IdentifierDNS {
		return ErrMalformed.Errorf("dns-01 validates only dns identifiers, not %q", ident.Type)
	}
	t, err := checkIdentifier(ident, true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	name := "_acme-challenge." + t.host
	txts, err := v.resolver.LookupTXT(ctx, name+".") // rooted: no search domains
	if err != nil {
		return v.netProblem(err, name)
	}
	want := DNS01Record(keyAuth)
	for _, txt := range txts {
		if txt == want {
			return nil
		}
	}
	if len(txts) == 0 {
		return ErrUnauthorized.Errorf("no TXT record found at %s", name)
	}
	return ErrUnauthorized.Errorf("no TXT record at %s matches the key authorization (found %d, first %s)", name, len(txts), quoteShort(txts[0]))
}
