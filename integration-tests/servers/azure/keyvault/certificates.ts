import { webcrypto } from "node:crypto";
// @peculiar/x509 resolves its algorithms through tsyringe, which needs a Reflect polyfill loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** A throwaway CA and the leaf it signed for the loopback addresses the server listens on. */
export interface TestCertificates {
  /** The CA certificate clients trust (`tlsOptions: { ca }` or NODE_EXTRA_CA_CERTS). */
  caCertPem: string;
  /** The server certificate, valid for 127.0.0.1, ::1 and localhost. */
  leafCertPem: string;
  leafKeyPem: string;
}

const algorithm: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
};

function toPem(der: ArrayBuffer, label: string): string {
  const base64 = Buffer.from(der).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * A CA separate from the leaf, rather than one self-signed leaf, because that is what clients meet
 * in real deployments: the trust anchor is never the certificate the server presents.
 */
export async function createTestCertificates(): Promise<TestCertificates> {
  const crypto = webcrypto;
  // Backdated a little: a client whose clock runs slightly behind must not see "not yet valid".
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(Date.now() + 7 * 24 * 60 * 60 * 1000);

  const caKeys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: "CN=omnisecret Key Vault test CA",
      notBefore,
      notAfter,
      keys: caKeys,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const leafKeys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: "CN=127.0.0.1",
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        // Node checks the SAN only (not the CN), so every name a client may dial must be listed here.
        new x509.SubjectAlternativeNameExtension(
          [
            { type: "ip", value: "127.0.0.1" },
            { type: "ip", value: "::1" },
            { type: "dns", value: "localhost" },
          ],
          false,
        ),
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca, false, crypto),
      ],
    },
    crypto,
  );

  const leafKeyDer = await crypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
  return {
    caCertPem: ca.toString("pem"),
    leafCertPem: leaf.toString("pem"),
    leafKeyPem: toPem(leafKeyDer, "PRIVATE KEY"),
  };
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  // A positive INTEGER: a set top bit would make the DER value negative, which strict parsers refuse.
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}
