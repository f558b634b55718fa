// The plugin, as nx.json names it: its TypeScript sources run from a bundle (see bundle.js).
"use strict";
module.exports = require("./bundle.js").plugin();
