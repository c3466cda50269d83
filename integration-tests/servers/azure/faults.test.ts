/**
 * The Azure adapter through the fault proxy (see integration-tests/fault-suite.ts): every request
 * to the vault crosses a plain TCP proxy (TLS passes through it unchanged, and the certificate
 * names 127.0.0.1 whatever the port), while sign-in goes to the server's token endpoint directly.
 */
import { testFaultsOnServer } from "../../fault-suite.js";
import { serverConfig } from "../../server-config.js";

const config = serverConfig("azure");

testFaultsOnServer("azure", config);
