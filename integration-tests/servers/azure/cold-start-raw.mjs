// The raw side of the bench's cold start on Azure Key Vault: the SDK's credential and client, one
// getSecret by name; run by bench/cold-start/raw.mjs in a fresh process, so it imports nothing but
// what that read needs.
export async function readSecret({ config, prefix, id, owner }) {
  const { readFileSync } = await import("node:fs");
  const { rootCertificates } = await import("node:tls");
  const { ClientSecretCredential, DefaultAzureCredential } = await import("@azure/identity");
  const { SecretClient } = await import("@azure/keyvault-secrets");
  const tlsOptions = config.caCertFile
    ? { ca: [...rootCertificates, readFileSync(config.caCertFile, "utf8")] }
    : undefined;
  const secret = config.credential;
  const credential = secret
    ? new ClientSecretCredential(secret.tenantId, secret.clientId, secret.clientSecret, {
        ...(secret.authorityHost ? { authorityHost: secret.authorityHost, disableInstanceDiscovery: true } : {}),
        ...(tlsOptions ? { tlsOptions } : {}),
      })
    : new DefaultAzureCredential(tlsOptions ? { tlsOptions } : {});
  const client = new SecretClient(config.vaultUrl, credential, {
    disableChallengeResourceVerification: config.disableChallengeResourceVerification === true,
    ...(tlsOptions ? { tlsOptions } : {}),
  });
  const result = await client.getSecret(`${prefix}-${owner}-${id}`);
  return JSON.parse(result.value);
}
