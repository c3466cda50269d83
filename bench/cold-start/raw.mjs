// Cold start with the raw SDK alone: a fresh process imports only the provider's SDK or client,
// sets it up as the provider's raw bench side (integration-tests/servers/<p>/bench-raw.ts) does
// and reads one secret with the fewest requests: by its name, `<prefix>/<owner>/<uuid>` (aws,
// vault) or `<prefix>-<owner>-<uuid>` (gcp, azure), which says whose it is, so nothing is read
// for ownership. Usage: node raw.mjs <provider> '<config json>' <prefix> <id>
// Prints {"maxRssKiB": <peak resident set size>} when done.
const [provider, configJson, prefix, id] = process.argv.slice(2);
const config = JSON.parse(configJson);
const owner = config.owner ?? "default";

async function local() {
  const { createDecipheriv } = await import("node:crypto");
  const { default: Database } = await import("better-sqlite3");
  const key = Buffer.from(config.key, "base64");
  const db = new Database(config.path, { timeout: 5_000 });
  // The adapter's setup: the same pragmas and schema, and the same check of the key.
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS omnisecret_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS omnisecret_secrets (
      prefix TEXT NOT NULL, id TEXT NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, auth_tag BLOB NOT NULL,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (prefix, id)) WITHOUT ROWID;
  `);
  db.prepare("INSERT OR IGNORE INTO omnisecret_meta (name, value) VALUES ('schema_version', ?)").run("1");
  const decrypt = (nonce, ciphertext, tag, aad) => {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8");
  };
  db.transaction(() => {
    const check = db.prepare("SELECT value FROM omnisecret_meta WHERE name = 'key_check'").pluck().get();
    decrypt(check.subarray(0, 12), check.subarray(28), check.subarray(12, 28), Buffer.from("omnisecret:key-check"));
  }).immediate();
  const row = db
    .prepare("SELECT nonce, ciphertext, auth_tag FROM omnisecret_secrets WHERE prefix = ? AND id = ?")
    .get(prefix, id);
  const values = JSON.parse(decrypt(row.nonce, row.ciphertext, row.auth_tag, Buffer.from(`${prefix}\u0000${id}`)));
  db.close();
  return values;
}

async function aws() {
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

async function vault() {
  const { default: nodeVault } = await import("node-vault");
  const client = nodeVault({
    endpoint: config.address,
    token: config.token,
    requestOptions: { timeout: 10_000 },
    debug: () => undefined,
    rpDefaults: { strictSSL: true },
  });
  const body = await client.read(`${config.mount ?? "secret"}/data/${prefix}/${owner}/${id}`);
  return body.data.data;
}

async function gcp() {
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

async function azure() {
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

const read = { local, aws, vault, gcp, azure }[provider];
if (!read) throw new Error(`no raw cold start for provider ${provider}`);
const values = await read();
if (Object.keys(values).length === 0) throw new Error("the secret read back empty");
process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
