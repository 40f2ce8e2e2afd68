package validator

import (
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SerialOf returns the serial number of the DER certificate der without
// parsing the rest of it (an answer to a bulk publish names each
// certificate's serial; a full parse would cost as much again as the
// precheck's). ok is false when der does not start like a certificate.
func SerialOf(der []byte) (serial *big.Int, ok bool) {
	in := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, false
	}
	serial = new(big.Int)
	if !tbs.ReadASN1Integer(serial) {
		return nil, false
	}
	return serial, true
}
