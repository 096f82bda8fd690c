// Starts the peer on port 3000.
const { bootstrap } = require('@vendure/core');
const { config } = require('./config');
bootstrap(config).then(() => console.log('vendure up')).catch(e => { console.error(e); process.exit(1); });
