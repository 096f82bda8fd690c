// Vendure 3.7 on SQLite (better-sqlite3) with its default search plugin: the peer of benches/README.
const path = require('path');
const { dummyPaymentHandler, DefaultSearchPlugin } = require('@vendure/core');
exports.config = {
  apiOptions: { port: 3000, adminApiPath: 'admin-api', shopApiPath: 'shop-api' },
  authOptions: {
    tokenMethod: ['bearer', 'cookie'],
    superadminCredentials: { identifier: 'superadmin', password: 'bench-superadmin-7f3a' },
    cookieOptions: { secret: 'bench-secret' },
    requireVerification: false,
  },
  dbConnectionOptions: {
    type: 'better-sqlite3',
    database: path.join(__dirname, 'vendure.sqlite'),
    synchronize: true,
    logging: false,
  },
  paymentOptions: { paymentMethodHandlers: [dummyPaymentHandler] },
  plugins: [DefaultSearchPlugin.init({ bufferUpdates: false })],
};
