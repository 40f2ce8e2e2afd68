package ocsp

import (
	"encoding/asn1"
	"time"

	"github.com/certchain/certchain/certchain"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// oidBasic is id-pkix-ocsp-basic, the only responseType produced.
var oidBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

// Unsigned error responses (RFC 6960 §4.2.1: OCSPResponse without
// responseBytes).
var (
	respMalformed = []byte{0x30, 0x03, 0x0a, 0x01, 0x01} // malformedRequest
	respInternal  = []byte{0x30, 0x03, 0x0a, 0x01, 0x02} // internalError
	respTryLater  = []byte{0x30, 0x03, 0x0a, 0x01, 0x03} // tryLater
)

// certStatus is the CertStatus CHOICE of a SingleResponse.
type certStatus uint8

// CertStatus alternatives, in the order of their context tags.
const (
	statusGood certStatus = iota
	statusRevoked
	statusUnknown
)

// single is the answer for one CertID.
type single struct {
	status    certStatus
	revokedAt time.Time
	reason    certchain.Reason
}

// period is the validity of a response: thisUpdate (also producedAt) and
// nextUpdate, whole seconds in UTC.
type period struct{ thisUpdate, nextUpdate time.Time }

// responseData encodes ResponseData (RFC 6960 §4.2.1): version v1
// (default, omitted), responderID byKey, producedAt, one SingleResponse per
// CertID in request order, and the nonce extension when nonce is set.
func responseData(s *signer, ids []certID, answers []single, p period, nonce []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(tagExplicit2, func(b *cryptobyte.Builder) { b.AddASN1OctetString(s.keyHash) })
		b.AddASN1GeneralizedTime(p.thisUpdate)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for i := range ids {
				addSingle(b, &ids[i], &answers[i], p)
			}
		})
		if nonce != nil {
			addNonce(b, nonce)
		}
	})
	return b.Bytes()
}

func addSingle(b *cryptobyte.Builder, id *certID, a *single, p period) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(id.raw)
		addStatus(b, a)
		b.AddASN1GeneralizedTime(p.thisUpdate)
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddASN1GeneralizedTime(p.nextUpdate) })
	})
}

// addStatus encodes good [0] IMPLICIT NULL, revoked [1] IMPLICIT
// RevokedInfo or unknown [2] IMPLICIT NULL. The reason is left out when
// unspecified (RFC 5280 §5.3.1).
func addStatus(b *cryptobyte.Builder, a *single) {
	empty := func(*cryptobyte.Builder) {}
	switch a.status {
	case statusGood:
		b.AddASN1(cbasn1.Tag(0).ContextSpecific(), empty)
	case statusRevoked:
		b.AddASN1(tagExplicit1, func(b *cryptobyte.Builder) {
			b.AddASN1GeneralizedTime(a.revokedAt)
			if a.reason != certchain.ReasonUnspecified {
				b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddASN1Enum(int64(a.reason)) })
			}
		})
	default:
		b.AddASN1(cbasn1.Tag(2).ContextSpecific(), empty)
	}
}

// addNonce adds responseExtensions [1] holding the nonce extension with the
// request's extnValue, verbatim.
func addNonce(b *cryptobyte.Builder, nonce []byte) {
	b.AddASN1(tagExplicit1, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidNonce)
				b.AddASN1OctetString(nonce)
			})
		})
	})
}

// encodeResponse wraps a signed ResponseData into an OCSPResponse:
// successful, responseBytes of type id-pkix-ocsp-basic holding the
// BasicOCSPResponse, whose last field is the signer's certs. The result
// therefore ends with s.certs.
func encodeResponse(s *signer, tbs, sig []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Enum(0)
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidBasic)
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(tbs)
						b.AddBytes(s.algID)
						b.AddASN1BitString(sig)
						b.AddBytes(s.certs)
					})
				})
			})
		})
	})
	return b.Bytes()
}
