// The raw side of the bench's cold start on Google Secret Manager: the SDK's client, one
// AccessSecretVersion of `latest` by name; run by bench/cold-start/raw.mjs in a fresh process, so
// it imports nothing but what that read needs.
export async function readSecret({ config, prefix, id, owner }) {
  const { createRequire } = await import("node:module");
  const { SecretManagerServiceClient } = await import("@google-cloud/secret-manager");
  const sdkEntry = createRequire(import.meta.url).resolve("@google-cloud/secret-manager");
  const gax = createRequire(sdkEntry)("google-gax");
  const client = new SecretManagerServiceClient({
    projectId: config.projectId,
    apiEndpoint: config.apiEndpoint,
    port: config.port,
    sslCreds: gax.grpc.credentials.createInsecure(),
    universeDomain: "googleapis.com",
  });
  const name = `projects/${config.projectId}/secrets/${prefix}-${owner}-${id}/versions/latest`;
  const [response] = await client.accessSecretVersion({ name });
  await client.close();
  return JSON.parse(Buffer.from(response.payload.data).toString("utf8"));
}
