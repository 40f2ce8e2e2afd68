package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"unicode/utf8"

	"github.com/certchain/certchain/certchain"
)

// DefaultNetworkIDOID returns certchain.DefaultNetworkIDOID parsed.
func DefaultNetworkIDOID() asn1.ObjectIdentifier {
	oid, err := certchain.ParseOID(certchain.DefaultNetworkIDOID)
	if err != nil {
		panic("pki: certchain.DefaultNetworkIDOID does not parse: " + err.Error())
	}
	return oid
}

// NetworkIDExtension returns the network-ID extension: non-critical, with
// the DER encoding of networkID as a UTF8String as its value.
func NetworkIDExtension(oid asn1.ObjectIdentifier, networkID string) (pkix.Extension, error) {
	if len(oid) < 2 {
		return pkix.Extension{}, fmt.Errorf("%w: network-ID extension: OID %v is too short", certchain.ErrInvalid, oid)
	}
	if networkID == "" || !utf8.ValidString(networkID) {
		return pkix.Extension{}, fmt.Errorf("%w: network-ID extension: network ID must be non-empty UTF-8", certchain.ErrInvalid)
	}
	val, err := asn1.MarshalWithParams(networkID, "utf8")
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("network-ID extension: %w", err)
	}
	return pkix.Extension{Id: oid, Critical: false, Value: val}, nil
}
