package ocsp

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/certchain/certchain/certchain"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Errors of building a response; each maps to an OCSP error response.
var (
	errSource = errors.New("ocsp: reading the ledger failed")
	errSign   = errors.New("ocsp: signing failed")
)

// build looks every CertID up on the ledger and signs one response for
// all of them, echoing nonce when it is set.
func (r *Responder) build(ids []certID, nonce []byte) (*response, error) {
	answers := make([]single, len(ids))
	for i := range ids {
		rec, err := r.record(&ids[i])
		if err != nil {
			return nil, err
		}
		answers[i] = answerFor(rec)
	}
	now := r.cfg.Now()
	return r.sign(r.signerFor(ids, now), ids, answers, nonce, now)
}

// record returns the record a CertID names, or nil when the ledger has
// none: not found, a negative serial (never indexed), or an issuer name
// hash that does not match the record's issuer.
func (r *Responder) record(id *certID) (*certchain.Record, error) {
	if id.serial.Sign() < 0 {
		return nil, nil
	}
	rec, err := r.cfg.Source.LookupOCSP(id.keyHash, id.serial)
	if errors.Is(err, certchain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSource, err)
	}
	if !issuerNameMatches(id, rec.DER) {
		return nil, nil
	}
	return rec, nil
}

func issuerNameMatches(id *certID, certDER []byte) bool {
	issuer, _, ok := certFields(certDER)
	if !ok {
		return false
	}
	h := id.hash.New()
	h.Write(issuer)
	return bytes.Equal(h.Sum(nil), id.nameHash)
}

// certFields returns the DER of a certificate's issuer Name and the
// magnitude of its serial number, without parsing the whole certificate.
func certFields(der []byte) (issuer, serial []byte, ok bool) {
	s := cryptobyte.String(der)
	var cert, tbs, name cryptobyte.String
	n := new(big.Int)
	ok = s.ReadASN1(&cert, cbasn1.SEQUENCE) && cert.ReadASN1(&tbs, cbasn1.SEQUENCE) &&
		tbs.SkipOptionalASN1(tagExplicit0) && tbs.ReadASN1Integer(n) &&
		tbs.SkipASN1(cbasn1.SEQUENCE) && tbs.ReadASN1Element(&name, cbasn1.SEQUENCE)
	return name, n.Bytes(), ok
}

// answerFor maps a ledger record (nil: not on the ledger) to its OCSP
// answer. The stored status is reported even past NotAfter: OCSP reports
// revocation status, and validity is the relying party's own check.
func answerFor(rec *certchain.Record) single {
	if rec == nil {
		return single{status: statusUnknown}
	}
	at := rec.StatusTime.UTC().Truncate(time.Second)
	switch rec.Status {
	case certchain.StatusGood:
		return single{status: statusGood}
	case certchain.StatusRevoked:
		return single{status: statusRevoked, revokedAt: at, reason: rec.Reason}
	case certchain.StatusSuspended:
		return single{status: statusRevoked, revokedAt: at, reason: certchain.ReasonCertificateHold}
	case certchain.StatusSuperseded:
		return single{status: statusRevoked, revokedAt: at, reason: certchain.ReasonSuperseded}
	}
	return single{status: statusUnknown}
}

// signerFor picks the one signer of a response (RFC 6960 §4.2.2.2): the
// delegate of the CA that every CertID names by its issuer key hash (the
// usable one that stays valid longest), else the ledger responder
// (self-signed certificates, CAs without a delegate, requests mixing
// issuers).
func (r *Responder) signerFor(ids []certID, now time.Time) *signer {
	var chosen *signer
	for i := range ids {
		s := r.delegates.best(ids[i].keyHash, now)
		if s == nil || (chosen != nil && chosen != s) {
			return r.ledger.Load()
		}
		chosen = s
	}
	if chosen == nil {
		return r.ledger.Load()
	}
	return chosen
}

// sign encodes and signs a response valid from now for cfg.Validity, or
// until the signer's certificate expires if that is sooner: no response
// outlives its signer.
func (r *Responder) sign(s *signer, ids []certID, answers []single, nonce []byte, at time.Time) (*response, error) {
	start := time.Now()
	now := at.UTC().Truncate(time.Second)
	p := period{thisUpdate: now, nextUpdate: minTime(now.Add(r.cfg.Validity), s.cert.NotAfter.UTC().Truncate(time.Second))}
	tbs, err := responseData(s, ids, answers, p, nonce)
	var sig, der []byte
	if err == nil {
		sig, err = s.sign(tbs)
	}
	if err == nil {
		der, err = encodeResponse(s, tbs, sig)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSign, err)
	}
	r.m.sign.Observe(time.Since(start).Seconds())
	return newResponse(der, s, p, outcomeOf(answers)), nil
}

// outcomeOf is the status label of a response: revoked if any answer is,
// else unknown if any is, else good.
func outcomeOf(answers []single) outcome {
	o := outcomeGood
	for _, a := range answers {
		switch {
		case a.status == statusRevoked:
			return outcomeRevoked
		case a.status == statusUnknown:
			o = outcomeUnknown
		}
	}
	return o
}

// certKey is the index key of a certificate as CertIDs name it: the
// issuer key hash (its length tells the algorithm) and the serial.
func certKey(keyHash, serial []byte) string {
	return string(append(append([]byte{byte(len(keyHash))}, keyHash...), serial...))
}

func certKeys(ids []certID) []string {
	keys := make([]string, len(ids))
	for i := range ids {
		keys[i] = certKey(ids[i].keyHash, ids[i].serial.Bytes())
	}
	return keys
}

// appendRecordKeys appends the index keys of a record: SHA-1 and SHA-256
// of its issuer's key, with its serial.
func appendRecordKeys(keys []string, rec *certchain.Record) []string {
	_, serial, ok := certFields(rec.DER)
	if !ok {
		return keys
	}
	h1, h256 := sha1.Sum(rec.IssuerKey), sha256.Sum256(rec.IssuerKey)
	return append(keys, certKey(h1[:], serial), certKey(h256[:], serial))
}
