// The raw side of the bench's cold start on AWS Secrets Manager: the SDK's client, one
// GetSecretValue by name; run by bench/cold-start/raw.mjs in a fresh process, so it imports nothing
// but what that read needs.
export async function readSecret({ config, prefix, id, owner }) {
  const { SecretsManagerClient, GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
  const client = new SecretsManagerClient({
    region: config.region,
    endpoint: config.endpoint,
    credentials: { ...config.credentials },
    maxAttempts: 3,
  });
  const result = await client.send(new GetSecretValueCommand({ SecretId: `${prefix}/${owner}/${id}` }));
  client.destroy();
  return JSON.parse(result.SecretString);
}
