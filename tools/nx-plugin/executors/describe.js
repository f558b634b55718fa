// The describe executor, as executors.json names it: its TypeScript source runs from a bundle (see ../bundle.js).
"use strict";
module.exports = require("../bundle.js").load("describe");
