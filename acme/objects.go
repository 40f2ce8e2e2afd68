package acme

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Object statuses (RFC 8555 §7.1.6).
const (
	statusPending     = "pending"
	statusReady       = "ready"
	statusProcessing  = "processing"
	statusValid       = "valid"
	statusInvalid     = "invalid"
	statusDeactivated = "deactivated"
	statusExpired     = "expired"
	statusRevoked     = "revoked"
)

// Keys of the objects in the Store. IDs are random (newID); thumbprints and
// certificate IDs are base64url / hex and contain no "/".
//
//	acme/acct/{id}            account
//	acme/key/{thumbprint}     accountRef: which account holds a key
//	acme/eab/{key ID}         accountRef: which account used an EAB key
//	acme/order/{id}           order
//	acme/orders/{acct}/{id}   accountRef (empty): the account's orders
//	acme/authz/{id}           authorization
//	acme/cert/{id}            issued: an issued certificate, by ledger ID
//	acme/serial/{hex}         accountRef: issued certificate ID by serial
const keyPrefix = "acme/"

func accountKeyOf(id string) string       { return keyPrefix + "acct/" + id }
func keyIndexKey(thumb string) string     { return keyPrefix + "key/" + thumb }
func eabKey(kid string) string            { return keyPrefix + "eab/" + kid }
func orderKey(id string) string           { return keyPrefix + "order/" + id }
func accountOrdersPrefix(a string) string { return keyPrefix + "orders/" + a + "/" }
func authzKey(id string) string           { return keyPrefix + "authz/" + id }
func certKey(id string) string            { return keyPrefix + "cert/" + id }
func serialKey(hex string) string         { return keyPrefix + "serial/" + hex }

// account is an ACME account (RFC 8555 §7.1.2).
type account struct {
	ID        string           `json:"id"`
	Status    string           `json:"status"`
	Contact   []string         `json:"contact,omitempty"`
	Key       *jose.JSONWebKey `json:"key"`
	EAB       string           `json:"eab,omitempty"` // the external account key ID it was bound with
	CreatedAt time.Time        `json:"created"`
}

// accountRef points at an account (key and EAB indexes) or a certificate.
type accountRef struct {
	Account string `json:"account,omitempty"`
	Cert    string `json:"cert,omitempty"`
}

// order is an ACME order (RFC 8555 §7.1.3). Status is what was stored:
// pending, processing, valid or invalid; ready and the expiry of a pending
// order are worked out when it is read (orderStatus).
type order struct {
	ID             string       `json:"id"`
	Account        string       `json:"account"`
	Status         string       `json:"status"`
	Expires        time.Time    `json:"expires"`
	Identifiers    []Identifier `json:"identifiers"`
	Authorizations []string     `json:"authorizations"`
	Profile        string       `json:"profile"`
	Replaces       string       `json:"replaces,omitempty"`
	Error          *Problem     `json:"error,omitempty"`
	Cert           string       `json:"cert,omitempty"` // ledger ID of the issued certificate
	Updated        time.Time    `json:"updated"`
}

// authorization is an ACME authorization (RFC 8555 §7.1.4).
type authorization struct {
	ID         string      `json:"id"`
	Account    string      `json:"account"`
	Identifier Identifier  `json:"identifier"`
	Wildcard   bool        `json:"wildcard,omitempty"`
	Status     string      `json:"status"`
	Expires    time.Time   `json:"expires"`
	Challenges []challenge `json:"challenges"`
}

// challenge is one way to prove control (RFC 8555 §7.1.5). Started is
// when validation began, so that a validation lost with its node can be
// started again.
type challenge struct {
	Type      string     `json:"type"`
	Token     string     `json:"token"`
	Status    string     `json:"status"`
	Validated *time.Time `json:"validated,omitempty"`
	Started   *time.Time `json:"started,omitempty"`
	Error     *Problem   `json:"error,omitempty"`
}

// issued is a certificate the CA issued: for downloads, revocation by the
// ordering account, and renewal information.
type issued struct {
	ID         string    `json:"id"` // ledger certificate ID (SHA-256 of the DER, hex)
	Account    string    `json:"account"`
	Order      string    `json:"order"`
	DER        []byte    `json:"der"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	ReplacedBy string    `json:"replaced_by,omitempty"` // order that replaces it (RFC 9773 §5)
}

// newID returns a fresh random object ID (128 bits, base64url).
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// load reads the object at key into v.
func (s *Server) load(ctx context.Context, key string, v any) (uint64, error) {
	b, ver, err := s.cfg.Store.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return 0, fmt.Errorf("object %s: %w", key, err)
	}
	return ver, nil
}

// put returns the write of v at key from version.
func put(key string, v any, version uint64) Write {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen: the objects are plain data
		panic(fmt.Sprintf("acme: encode %s: %v", key, err))
	}
	return Write{Key: key, Value: b, Version: version}
}

func (s *Server) getAccount(ctx context.Context, id string) (*account, uint64, error) {
	var a account
	v, err := s.load(ctx, accountKeyOf(id), &a)
	return &a, v, err
}

// owned loads an object of the requesting account at key into v; another
// account's object is reported as missing (no probing of IDs).
func (s *Server) owned(ctx context.Context, q *request, key string, v interface{ owner() string }) (uint64, error) {
	ver, err := s.load(ctx, key, v)
	if errors.Is(err, ErrNoObject) || (err == nil && v.owner() != q.account.ID) {
		return 0, notFound("no such resource: %s", q.r.URL.Path)
	}
	return ver, err
}

func (o *order) owner() string         { return o.Account }
func (a *authorization) owner() string { return a.Account }
func (c *issued) owner() string        { return c.Account }

// notFound is a malformed problem with status 404 (RFC 8555 has no type
// for a missing resource; Boulder answers the same).
func notFound(format string, args ...any) *Problem {
	p := ErrMalformed.Errorf(format, args...)
	p.Status = 404
	return p
}

// storeErr turns a version conflict into a problem the client can act on:
// someone changed the object at the same time; retrying reads it again.
func storeErr(err error, what string) error {
	if errors.Is(err, ErrVersionConflict) {
		p := ErrMalformed.Errorf("%s changed concurrently; retry the request", what)
		p.Status = 409
		return p
	}
	return err
}
