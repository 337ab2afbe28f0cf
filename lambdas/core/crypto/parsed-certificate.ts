import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  type GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_subjectAltName,
  type Name,
  SubjectAlternativeName,
} from '@peculiar/asn1-x509';
import { InvalidInputError } from '../errors.js';

/**
 * The fields of an X.509 certificate that the checks on what a CA returns read, decoded with the
 * ASN.1 schema of RFC 5280 (`@peculiar/asn1-x509`). That schema is a fraction of a full
 * certificate library: the steps that parse certificates stay well inside their bundle budget.
 * Signatures and key comparisons are left to `node:crypto`, which has OpenSSL do them.
 */

/** One subjectAltName entry: `dns`, `ip`, `email`, `url`, `id`, `dn` or `other`, and its value. */
export interface CertificateName {
  readonly type: string;
  readonly value: string;
}

/** What is read from one certificate. */
export interface ParsedCertificate {
  /** Lower-case hex of the serial, without the leading zero byte DER adds to a positive INTEGER. */
  readonly serial: string;
  /** The serial number INTEGER's value bytes exactly as encoded, leading zero byte included. */
  readonly serialBytes: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** RFC 4514-style, as the CA wrote it: `CN=…, O=…` in certificate order. */
  readonly issuer: string;
  readonly subject: string;
  readonly issuerCommonNames: string[];
  readonly subjectCommonNames: string[];
  /** The subjectAltName entries, in certificate order; empty without the extension. */
  readonly names: CertificateName[];
  /** basicConstraints cA. */
  readonly isCa: boolean;
  /** The Authority Key Identifier's keyIdentifier, when there is one. */
  readonly authorityKeyId: Uint8Array | undefined;
}

const COMMON_NAME = '2.5.4.3';

/** The attribute names @peculiar/x509 and OpenSSL print; any other attribute shows its OID. */
const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  [COMMON_NAME]: 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'E',
  '2.5.4.42': 'G',
  '2.5.4.43': 'I',
  '2.5.4.4': 'SN',
  '2.5.4.12': 'T',
};

/**
 * Parses a DER certificate. Throws `InvalidInputError` when it is not a certificate, or when one
 * of the extensions read here does not decode.
 */
export function parseCertificateDer(der: Uint8Array): ParsedCertificate {
  try {
    const { tbsCertificate: tbs } = AsnConvert.parse(der, Certificate);
    const extension = (id: string): ArrayBuffer | undefined =>
      tbs.extensions?.find((candidate) => candidate.extnID === id)?.extnValue.buffer;
    const san = extension(id_ce_subjectAltName);
    const basicConstraints = extension(id_ce_basicConstraints);
    const authorityKeyId = extension(id_ce_authorityKeyIdentifier);
    const keyIdentifier =
      authorityKeyId === undefined
        ? undefined
        : AsnConvert.parse(authorityKeyId, AuthorityKeyIdentifier).keyIdentifier?.buffer;
    const serialBytes = new Uint8Array(tbs.serialNumber);
    return {
      serial: serialHex(serialBytes),
      serialBytes,
      notBefore: tbs.validity.notBefore.getTime(),
      notAfter: tbs.validity.notAfter.getTime(),
      issuer: nameToString(tbs.issuer),
      subject: nameToString(tbs.subject),
      issuerCommonNames: commonNames(tbs.issuer),
      subjectCommonNames: commonNames(tbs.subject),
      names: san === undefined ? [] : AsnConvert.parse(san, SubjectAlternativeName).map(generalName),
      isCa: basicConstraints !== undefined && AsnConvert.parse(basicConstraints, BasicConstraints).cA,
      authorityKeyId: keyIdentifier === undefined ? undefined : new Uint8Array(keyIdentifier),
    };
  } catch (error) {
    throw new InvalidInputError('Not a parsable X.509 certificate', { cause: error });
  }
}

function serialHex(bytes: Uint8Array): string {
  const value = bytes.length > 1 && bytes[0] === 0 && (bytes[1] ?? 0) > 0x7f ? bytes.subarray(1) : bytes;
  return Buffer.from(value).toString('hex');
}

function commonNames(name: Name): string[] {
  return name
    .flatMap((rdn) => rdn.filter((attribute) => attribute.type === COMMON_NAME))
    .map((attribute) => attribute.value.toString());
}

/** RFC 4514 §2.4 escaping, as @peculiar/x509 applies it. */
function escapeValue(value: string): string {
  return value
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/( $)/, '\\$1')
    .replace(/[\r\n\t]/g, (char) => `\\${Buffer.from(char).toString('hex').toUpperCase()}`);
}

function nameToString(name: Name): string {
  return name
    .map((rdn) =>
      rdn
        .map((attribute) => {
          const type = ATTRIBUTE_NAMES[attribute.type] ?? attribute.type;
          const { anyValue } = attribute.value;
          const value = anyValue
            ? `#${Buffer.from(anyValue).toString('hex')}`
            : escapeValue(attribute.value.toString());
          return `${type}=${value}`;
        })
        .join('+'),
    )
    .join(', ');
}

function generalName(name: GeneralName): CertificateName {
  if (name.dNSName !== undefined) return { type: 'dns', value: name.dNSName };
  if (name.iPAddress !== undefined) return { type: 'ip', value: name.iPAddress };
  if (name.rfc822Name !== undefined) return { type: 'email', value: name.rfc822Name };
  if (name.uniformResourceIdentifier !== undefined) {
    return { type: 'url', value: name.uniformResourceIdentifier };
  }
  if (name.registeredID !== undefined) return { type: 'id', value: name.registeredID };
  if (name.directoryName !== undefined) return { type: 'dn', value: nameToString(name.directoryName) };
  if (name.otherName !== undefined) return { type: 'other', value: name.otherName.typeId };
  return { type: 'other', value: 'an x400Address or ediPartyName' };
}
