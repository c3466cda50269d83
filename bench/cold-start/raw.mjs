// Cold start with the raw SDK alone: a fresh process imports only the provider's SDK or client,
// sets it up as omnisecret's adapter does and reads one secret with the same requests.
// Usage: node raw.mjs <provider> '<config json>' <prefix> <id>
// Prints {"maxRssKiB": <peak resident set size>} when done.
const [provider, configJson, prefix, id] = process.argv.slice(2);
const config = JSON.parse(configJson);

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
  const { SecretsManagerClient, DescribeSecretCommand, GetSecretValueCommand } = await import(
    "@aws-sdk/client-secrets-manager"
  );
  const client = new SecretsManagerClient({
    region: config.region,
    endpoint: config.endpoint,
    credentials: { ...config.credentials },
    maxAttempts: 3,
  });
  const described = await client.send(new DescribeSecretCommand({ SecretId: `${prefix}/${id}` }));
  const tag = (key) => described.Tags?.find((candidate) => candidate.Key === key)?.Value;
  if (tag("omnisecret:id") !== id || tag("omnisecret:owner") !== "default") throw new Error("not ours");
  const result = await client.send(new GetSecretValueCommand({ SecretId: described.ARN }));
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
  const body = await client.read(`secret/data/${prefix}/${id}`);
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
  const name = `projects/${config.projectId}/secrets/${prefix}-${id}`;
  const [secret] = await client.getSecret({ name });
  if (secret.labels?.["omnisecret-id"] !== id) throw new Error("not ours");
  const [response] = await client.accessSecretVersion({ name: `${name}/versions/latest` });
  await client.close();
  return JSON.parse(Buffer.from(response.payload.data).toString("utf8"));
}

const read = { local, aws, vault, gcp }[provider];
if (!read) throw new Error(`no raw cold start for provider ${provider}`);
const values = await read();
if (Object.keys(values).length === 0) throw new Error("the secret read back empty");
process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
