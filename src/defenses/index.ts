export { atLoss } from './at.js';
export { alpLoss, type AlpOptions } from './alp.js';
export { tradesLoss, type TradesOptions } from './trades.js';
export { martLoss, type MartOptions } from './mart.js';
