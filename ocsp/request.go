package ocsp

import (
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// maxCertIDs bounds the CertIDs of one request (RFC 5019 §2.1.1 clients
// send one; OpenSSL can send several).
const maxCertIDs = 32

// Object identifiers of the request.
var (
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidNonce  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2} // RFC 8954
)

// Request errors; each maps to an OCSP error response (see failure).
var (
	errMalformed       = errors.New("ocsp: malformed request")
	errUnsupportedHash = fmt.Errorf("%w: unsupported CertID hash algorithm (SHA-1 and SHA-256 are answered)", errMalformed)
	errTooLarge        = fmt.Errorf("%w: request too large", errMalformed)
)

// Context-specific tags of OCSPRequest and BasicOCSPResponse fields.
var (
	tagExplicit0 = cbasn1.Tag(0).Constructed().ContextSpecific()
	tagExplicit1 = cbasn1.Tag(1).Constructed().ContextSpecific()
	tagExplicit2 = cbasn1.Tag(2).Constructed().ContextSpecific()
)

// certID is one CertID of a request (RFC 6960 §4.1.1).
type certID struct {
	raw      []byte // DER of the CertID, echoed unchanged in the response
	hash     crypto.Hash
	nameHash []byte
	keyHash  []byte
	serial   *big.Int
}

// request is a parsed OCSPRequest. Only what the answer depends on is kept:
// requestorName, optionalSignature and other extensions are ignored.
type request struct {
	ids []certID
	// nonce is the extnValue of a usable nonce extension (nil: none).
	nonce []byte
	// unique is set when the request carried any nonce: its bytes are
	// then never reused as a cache key.
	unique bool
	// canon is the cache key of the request: what the answer depends on.
	canon string
}

func malformed(what string) error { return fmt.Errorf("%w: %s", errMalformed, what) }

// parseRequest parses a DER OCSPRequest (RFC 6960 §4.1.1). The returned
// request refers to der, which must not change afterwards.
func parseRequest(der []byte) (*request, error) {
	in := cryptobyte.String(der)
	var outer, tbs cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("not a DER OCSPRequest")
	}
	if !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) || !outer.SkipOptionalASN1(tagExplicit0) || !outer.Empty() {
		return nil, malformed("bad OCSPRequest")
	}
	return parseTBSRequest(tbs)
}

func parseTBSRequest(tbs cryptobyte.String) (*request, error) {
	var version int64
	var list, exts cryptobyte.String
	var hasExts bool
	if !tbs.ReadOptionalASN1Integer(&version, tagExplicit0, int64(0)) || version != 0 ||
		!tbs.SkipOptionalASN1(tagExplicit1) || !tbs.ReadASN1(&list, cbasn1.SEQUENCE) ||
		!tbs.ReadOptionalASN1(&exts, &hasExts, tagExplicit2) || !tbs.Empty() {
		return nil, malformed("bad TBSRequest")
	}
	q := &request{}
	if err := q.parseList(list); err != nil {
		return nil, err
	}
	if hasExts {
		if err := q.parseExtensions(exts); err != nil {
			return nil, err
		}
	}
	q.canon = canonicalKey(q.ids)
	return q, nil
}

// parseList reads the requestList: one to maxCertIDs Requests.
func (q *request) parseList(list cryptobyte.String) error {
	for !list.Empty() {
		var one, raw cryptobyte.String
		if len(q.ids) == maxCertIDs {
			return fmt.Errorf("%w: more than %d certificates in one request", errTooLarge, maxCertIDs)
		}
		if !list.ReadASN1(&one, cbasn1.SEQUENCE) || !one.ReadASN1Element(&raw, cbasn1.SEQUENCE) ||
			!one.SkipOptionalASN1(tagExplicit0) || !one.Empty() {
			return malformed("bad Request")
		}
		id, err := parseCertID(raw)
		if err != nil {
			return err
		}
		q.ids = append(q.ids, id)
	}
	if len(q.ids) == 0 {
		return malformed("empty requestList")
	}
	return nil
}

// parseCertID parses one CertID element. The structure is checked before
// the hash algorithm, so that garbage is malformed, not unsupported.
func parseCertID(raw cryptobyte.String) (certID, error) {
	id := certID{raw: []byte(raw), serial: new(big.Int)}
	var body, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !raw.ReadASN1(&body, cbasn1.SEQUENCE) || !body.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&oid) || !readOptionalNULL(&alg) ||
		!body.ReadASN1Bytes(&id.nameHash, cbasn1.OCTET_STRING) ||
		!body.ReadASN1Bytes(&id.keyHash, cbasn1.OCTET_STRING) ||
		!body.ReadASN1Integer(id.serial) || !body.Empty() {
		return certID{}, malformed("bad CertID")
	}
	switch {
	case oid.Equal(oidSHA1):
		id.hash = crypto.SHA1
	case oid.Equal(oidSHA256):
		id.hash = crypto.SHA256
	default:
		return certID{}, fmt.Errorf("%w: %v", errUnsupportedHash, oid)
	}
	if len(id.nameHash) != id.hash.Size() || len(id.keyHash) != id.hash.Size() {
		return certID{}, malformed("CertID hash of the wrong length")
	}
	return id, nil
}

// certIDsOf parses a canonical key back into its CertIDs (slots keep only
// the key, and re-parse it when they are signed again).
func certIDsOf(canon string) ([]certID, error) {
	s := cryptobyte.String(canon[1:])
	var ids []certID
	for !s.Empty() {
		var raw cryptobyte.String
		if !s.ReadASN1Element(&raw, cbasn1.SEQUENCE) {
			return nil, malformed("bad canonical key")
		}
		id, err := parseCertID(raw)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// readOptionalNULL reads the rest of an AlgorithmIdentifier: nothing or a
// NULL parameter (both are seen for SHA-1 and SHA-256).
func readOptionalNULL(alg *cryptobyte.String) bool {
	if alg.Empty() {
		return true
	}
	var null cryptobyte.String
	return alg.ReadASN1(&null, cbasn1.NULL) && null.Empty() && alg.Empty()
}

// parseExtensions reads requestExtensions and keeps the nonce.
func (q *request) parseExtensions(outer cryptobyte.String) error {
	var exts cryptobyte.String
	if !outer.ReadASN1(&exts, cbasn1.SEQUENCE) || !outer.Empty() {
		return malformed("bad requestExtensions")
	}
	for !exts.Empty() {
		var ext cryptobyte.String
		var oid asn1.ObjectIdentifier
		var critical bool
		var value []byte
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) ||
			(ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&critical)) ||
			!ext.ReadASN1Bytes(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return malformed("bad Extension")
		}
		if oid.Equal(oidNonce) {
			q.unique = true
			q.nonce = usableNonce(value)
		}
	}
	return nil
}

// usableNonce returns value if the nonce it carries is 1 to 32 octets
// (RFC 8954 §2.1), else nil: such a request is answered without a nonce,
// as RFC 8954 allows. The value is echoed verbatim, so that clients that
// put the nonce in unwrapped (before RFC 8954) get back what they sent.
func usableNonce(value []byte) []byte {
	n := len(value)
	s := cryptobyte.String(value)
	var inner cryptobyte.String
	if s.ReadASN1(&inner, cbasn1.OCTET_STRING) && s.Empty() {
		n = len(inner)
	}
	if n < 1 || n > 32 {
		return nil
	}
	return value
}

// canonicalKey is the cache key of a request: a zero byte (which no GET
// path or POST body starts with) and its CertIDs' DER.
func canonicalKey(ids []certID) string {
	var b strings.Builder
	n := 1
	for i := range ids {
		n += len(ids[i].raw)
	}
	b.Grow(n)
	b.WriteByte(0)
	for i := range ids {
		b.Write(ids[i].raw)
	}
	return b.String()
}
