// SPDX-License-Identifier: Apache-2.0
// Validates many Amazon States Language definitions in one Node.js process.
// stdin: {"<name>": <definition>, ...}; stdout: {"<name>": ["<error>", ...], ...} (an empty list: valid).
"use strict";

const validator = require("asl-validator");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  const definitions = JSON.parse(input);
  const results = {};
  for (const [name, definition] of Object.entries(definitions)) {
    const { isValid, errors } = validator(definition);
    results[name] = isValid ? [] : errors.map((error) => `${error["Error code"]}: ${error.Message}`);
  }
  process.stdout.write(JSON.stringify(results));
});
