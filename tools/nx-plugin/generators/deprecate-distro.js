// The deprecate-distro generator, as generators.json names it: its TypeScript source runs from a bundle (see ../bundle.js).
"use strict";
module.exports = require("../bundle.js").load("generator-deprecate-distro");
