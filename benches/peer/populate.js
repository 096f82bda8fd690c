// Creates the peer's database: a country, zone, tax rate, shipping and payment method, and the
// catalogue of products.py (populate.js <products.csv>).
const { bootstrap } = require('@vendure/core');
const { populate } = require('@vendure/core/cli');
const { config } = require('./config');
populate(() => bootstrap({ ...config, apiOptions: { ...config.apiOptions, port: 3999 } }),
  require('./initial.json'), process.argv[2])
  .then(app => app.close()).then(() => { console.log('populated'); process.exit(0); })
  .catch(e => { console.error(e); process.exit(1); });
