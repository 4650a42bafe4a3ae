// The functions of this package the recipes before them on the page required.
const { setKeepAlive, applyToAgent } = require('tcp-keepalive');
