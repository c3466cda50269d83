/**
 * Azure Key Vault by hand with `@azure/keyvault-secrets`, sending the fewest requests each
 * operation needs for the contract's meaning: store is a GET (an existing id is refused; Key
 * Vault has no conditional create) and a PUT with the tags; get one GET (tags checked on the
 * answer); update a GET (refuse a missing or foreign id) and a PUT; delete a GET, the DELETE, the
 * poller's GET(s) of the deleted secret, and the purge, so the id can be stored again at once.
 * Unlike the adapter it disables no replaced version and handles no deleted-but-recoverable name.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { ClientSecretCredential, DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { type KeyVaultSecret, SecretClient } from "@azure/keyvault-secrets";
import { type BenchSide, NotFound, type RawFactory } from "../../../bench/lib/side.js";

interface SecretCredentialConfig {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost?: string;
}

export const createRawAzure: RawFactory = async (config, prefix) => {
  const owner = (config.owner as string | undefined) ?? "default";
  const caCertFile = config.caCertFile as string | undefined;
  const tlsOptions = caCertFile ? { ca: [...rootCertificates, readFileSync(caCertFile, "utf8")] } : undefined;
  const secretCredential = config.credential as SecretCredentialConfig | undefined;
  const credential: TokenCredential = secretCredential
    ? new ClientSecretCredential(secretCredential.tenantId, secretCredential.clientId, secretCredential.clientSecret, {
        ...(secretCredential.authorityHost
          ? { authorityHost: secretCredential.authorityHost, disableInstanceDiscovery: true }
          : {}),
        ...(tlsOptions ? { tlsOptions } : {}),
      })
    : new DefaultAzureCredential(tlsOptions ? { tlsOptions } : {});
  const client = new SecretClient(config.vaultUrl as string, credential, {
    disableChallengeResourceVerification: config.disableChallengeResourceVerification === true,
    ...(tlsOptions ? { tlsOptions } : {}),
  });
  const nameOf = (id: string) => `${prefix}-${id}`;
  const tagsFor = (id: string) => ({ "managed-by": "omnisecret", "omnisecret-id": id, "omnisecret-owner": owner });
  const isStatus = (error: unknown, status: number) => (error as { statusCode?: number }).statusCode === status;

  async function getOwned(id: string): Promise<KeyVaultSecret> {
    let secret: KeyVaultSecret;
    try {
      secret = await client.getSecret(nameOf(id));
    } catch (error) {
      if (isStatus(error, 404)) throw new NotFound(id);
      throw error;
    }
    const tags = secret.properties.tags;
    if (tags?.["omnisecret-id"] !== id || tags["omnisecret-owner"] !== owner) throw new NotFound(id);
    return secret;
  }

  const side: BenchSide = {
    async storeSecretValues(id, values) {
      const exists = await client.getSecret(nameOf(id)).then(
        () => true,
        (error: unknown) => {
          if (isStatus(error, 404)) return false;
          throw error;
        },
      );
      if (exists) throw new Error(`secret ${id} already exists`);
      await client.setSecret(nameOf(id), JSON.stringify(values), {
        contentType: "application/json",
        tags: tagsFor(id),
      });
    },
    async getSecretValues(id) {
      return JSON.parse((await getOwned(id)).value as string);
    },
    async updateSecretValues(id, values) {
      await getOwned(id);
      await client.setSecret(nameOf(id), JSON.stringify(values), {
        contentType: "application/json",
        tags: tagsFor(id),
      });
    },
    async deleteSecretValues(id) {
      await getOwned(id);
      const poller = await client.beginDeleteSecret(nameOf(id), { intervalInMs: 500 });
      await poller.pollUntilDone();
      await client.purgeDeletedSecret(nameOf(id));
    },
    async close() {},
  };
  return side;
};
