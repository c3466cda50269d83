/**
 * The scale workload's support on Azure Key Vault (see bench/lib/scale-raw.ts for what each part
 * does): Key Vault lists the whole vault, whatever the namespace, one request per page, so L is the
 * whole vault and the raw side's list filters the names itself.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { ClientSecretCredential, DefaultAzureCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import type { ScaleProvider, ScaleRawFactory } from "../../../bench/lib/scale-raw.js";
import { secretNamePattern } from "../../../src/validation.js";

export const createAzureScaleRaw: ScaleRawFactory = async ({ config, rawPrefix, owner }) => {
  const caCertFile = config.caCertFile as string | undefined;
  const caCert = caCertFile ? readFileSync(caCertFile, "utf8") : undefined;
  const tlsOptions = caCert ? { ca: [...rootCertificates, caCert] } : undefined;
  const secret = config.credential as
    | { tenantId: string; clientId: string; clientSecret: string; authorityHost?: string }
    | undefined;
  const credential = secret
    ? new ClientSecretCredential(secret.tenantId, secret.clientId, secret.clientSecret, {
        ...(secret.authorityHost ? { authorityHost: secret.authorityHost, disableInstanceDiscovery: true } : {}),
        ...(tlsOptions ? { tlsOptions } : {}),
      })
    : new DefaultAzureCredential(tlsOptions ? { tlsOptions } : {});
  const client = new SecretClient(config.vaultUrl as string, credential, {
    disableChallengeResourceVerification: config.disableChallengeResourceVerification === true,
    ...(caCert ? { tlsOptions: { ca: caCert } } : {}),
  });
  const pageSize = (config.listPageSize as number | undefined) ?? 25;
  async function names(): Promise<string[]> {
    const found: string[] = [];
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: pageSize })) {
      for (const properties of page) found.push(properties.name);
    }
    return found;
  }
  const provider: ScaleProvider = {
    pageSize,
    async listRaw() {
      const pattern = secretNamePattern(`${rawPrefix}-${owner}-`, "", { ignoreCase: true });
      return (await names()).filter((name) => pattern.test(name)).length;
    },
    // Key Vault lists the whole vault, whatever the namespace.
    async serverListed() {
      return (await names()).length;
    },
    async close() {},
  };
  // The client's first request is answered with a challenge, then the token is fetched: once, here.
  await provider.serverListed("");
  return provider;
};
