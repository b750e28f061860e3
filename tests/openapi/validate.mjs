// Validate an OpenAPI description against the OpenAPI schema of its
// version, and resolve every $ref in it. Usage: node validate.mjs FILE
// Prints "valid: FILE (OpenAPI V)" and exits 0, or the errors and 1.
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
    console.error("usage: node validate.mjs FILE");
    process.exit(2);
}
const validator = new Validator();
const res = await validator.validate(file);
if (!res.valid) {
    console.error(`${file}: not a valid OpenAPI description:`);
    console.error(JSON.stringify(res.errors, null, 1));
    process.exit(1);
}
try {
    validator.resolveRefs();
} catch (e) {
    console.error(`${file}: a $ref does not resolve: ${e.message}`);
    process.exit(1);
}
console.log(`valid: ${file} (OpenAPI ${validator.version})`);
