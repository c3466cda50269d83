/** Two stores seeded with one difference of each kind, for the tests of compareStores and `diff`. */
import { randomUUID } from "node:crypto";
import type { SecretStore } from "./secret-store.js";
import { markedSecretValue } from "./testing/index.js";

/**
 * Two stores holding the same secrets but for one of each kind of difference; returns the ids
 * and every value written, so that a test can check none of them shows.
 */
export async function seeded(from: SecretStore, to: SecretStore) {
  const values: string[] = [];
  const value = (text = markedSecretValue()) => {
    values.push(text);
    return text;
  };
  const ids = {
    same: randomUUID(),
    unicode: randomUUID(),
    changed: randomUUID(),
    keyAdded: randomUUID(),
    keyRemoved: randomUUID(),
    normalization: randomUUID(),
    onlyInFrom: randomUUID(),
    onlyInTo: randomUUID(),
  };
  const same = { user: value(), password: value() };
  await from.storeSecretValues(ids.same, same);
  await to.storeSecretValues(ids.same, { password: same.password, user: same.user }); // other key order: same
  const unicode = { "clé 🔑": value(`${markedSecretValue()} 日本語 🎉\n`), ключ: value(`${markedSecretValue()}é`) };
  await from.storeSecretValues(ids.unicode, unicode);
  await to.storeSecretValues(ids.unicode, unicode);
  const shared = value();
  await from.storeSecretValues(ids.changed, { user: shared, password: value() });
  await to.storeSecretValues(ids.changed, { user: shared, password: value() });
  await from.storeSecretValues(ids.keyAdded, { user: shared });
  await to.storeSecretValues(ids.keyAdded, { user: shared, extra: value() });
  await from.storeSecretValues(ids.keyRemoved, { user: shared, gone: value() });
  await to.storeSecretValues(ids.keyRemoved, { user: shared });
  // The same text composed and decomposed: different bytes, so different values.
  await from.storeSecretValues(ids.normalization, { name: value(`${markedSecretValue()}\u00e9`) });
  await to.storeSecretValues(ids.normalization, { name: value(`${values.at(-1)?.slice(0, -1)}e\u0301`) });
  await from.storeSecretValues(ids.onlyInFrom, { only: value() });
  await to.storeSecretValues(ids.onlyInTo, { only: value() });
  return { ids, values };
}
