package ocsp

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"errors"
	"testing"
	"time"

	"github.com/certchain/certchain/validator/validatortest"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// testRequests are valid requests for the parser tests and the fuzz seed
// corpus.
func testRequests(t testing.TB) map[string][]byte {
	tn := validatortest.NewNetworkAt(t, time.Now())
	d := tn.SelfSigned(t)
	s := subject{cert: d.Cert, issuer: d.Cert}
	sha1ID, sha256ID := rawCertID(t, newRequest(t, s, crypto.SHA1)), rawCertID(t, newRequest(t, s, crypto.SHA256))
	return map[string][]byte{
		"ok/x-crypto-sha1":   newRequest(t, s, crypto.SHA1),
		"ok/x-crypto-sha256": newRequest(t, s, crypto.SHA256),
		"ok/two-certids":     buildRequest(t, [][]byte{sha1ID, sha256ID}, nil),
		"ok/nonce":           buildRequest(t, [][]byte{sha1ID}, bytes.Repeat([]byte{7}, 16)),
		"ok/signed-v1":       signedRequest(t, sha256ID),
	}
}

// signedRequest is a request with an explicit version, a requestorName,
// a per-request extension and an optionalSignature, all of which the
// responder ignores.
func signedRequest(t testing.TB, id []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddASN1Int64(0) })
			b.AddASN1(tagExplicit1, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte("rp.example")) })
			})
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(id)
					b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddASN1(cbasn1.SEQUENCE, func(*cryptobyte.Builder) {}) })
				})
			})
		})
		b.AddASN1(tagExplicit0, func(b *cryptobyte.Builder) { b.AddASN1(cbasn1.SEQUENCE, func(*cryptobyte.Builder) {}) })
	})
	return b.BytesOrPanic()
}

func TestParseRequest(t *testing.T) {
	for name, der := range testRequests(t) {
		t.Run(name, func(t *testing.T) {
			q, err := parseRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			x, xerr := ocsp.ParseRequest(der)
			if xerr == nil && (x.HashAlgorithm != q.ids[0].hash || x.SerialNumber.Cmp(q.ids[0].serial) != 0 ||
				!bytes.Equal(x.IssuerKeyHash, q.ids[0].keyHash) || !bytes.Equal(x.IssuerNameHash, q.ids[0].nameHash)) {
				t.Fatalf("disagrees with x/crypto: %+v", x)
			}
			checkRoundTrip(t, q)
			if (name == "ok/nonce") != (q.nonce != nil) || q.unique != (q.nonce != nil) {
				t.Fatalf("nonce %x unique %v", q.nonce, q.unique)
			}
		})
	}
}

func TestParseRequestRefuses(t *testing.T) {
	good := testRequests(t)["ok/x-crypto-sha1"]
	id := rawCertID(t, good)
	badVersion := bytes.Replace(signedRequest(t, id), []byte{0xa0, 0x03, 0x02, 0x01, 0x00}, []byte{0xa0, 0x03, 0x02, 0x01, 0x01}, 1)
	shortHash := decodeCertID(t, id)
	shortHash.KeyHash = shortHash.KeyHash[:19]
	cases := map[string]struct {
		der  []byte
		want error
	}{
		"fail/empty":            {nil, errMalformed},
		"fail/not-der":          {[]byte("GET / HTTP/1.1"), errMalformed},
		"fail/trailing":         {append(append([]byte{}, good...), 0x00), errMalformed},
		"fail/no-certids":       {buildRequest(t, nil, nil), errMalformed},
		"fail/version-2":        {badVersion, errMalformed},
		"fail/short-key-hash":   {buildRequest(t, [][]byte{shortHash.encode(t)}, nil), errMalformed},
		"fail/sha384":           {sha384Request(t, good), errUnsupportedHash},
		"fail/broken-extension": {bytes.Replace(buildRequest(t, [][]byte{id}, []byte{1}), mustOID(oidNonce), []byte{0x06, 0x03, 0x55, 0x1d, 0x80}, 1), errMalformed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := parseRequest(c.der); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func mustOID(oid asn1.ObjectIdentifier) []byte {
	b, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return b
}

// checkRoundTrip: the CertIDs of an accepted request survive re-encoding:
// a request rebuilt from them parses to the same CertIDs and key.
func checkRoundTrip(t testing.TB, q *request) {
	t.Helper()
	var raws [][]byte
	for _, id := range q.ids {
		raws = append(raws, id.raw)
	}
	again, err := parseRequest(buildRequest(t, raws, nil))
	if err != nil || len(again.ids) != len(q.ids) || again.canon != q.canon || canonicalKey(q.ids) != q.canon {
		t.Fatalf("round trip: %v", err)
	}
	for i, id := range again.ids {
		o := q.ids[i]
		if id.hash != o.hash || id.serial.Cmp(o.serial) != 0 || !bytes.Equal(id.nameHash, o.nameHash) || !bytes.Equal(id.keyHash, o.keyHash) {
			t.Fatalf("CertID %d changed", i)
		}
	}
}

// FuzzParseRequest: the parser never panics, and what it accepts
// round-trips its CertIDs.
func FuzzParseRequest(f *testing.F) {
	for _, der := range testRequests(f) {
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x30})
	f.Fuzz(func(t *testing.T, der []byte) {
		q, err := parseRequest(der)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error outside the malformed kind: %v", err)
			}
			return
		}
		if len(q.ids) == 0 || len(q.ids) > maxCertIDs {
			t.Fatalf("%d CertIDs accepted", len(q.ids))
		}
		checkRoundTrip(t, q)
	})
}
