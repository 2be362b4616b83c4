export { atLoss } from './at.js';
export { alpLoss, type AlpOptions } from './alp.js';
export { tradesLoss, type TradesOptions } from './trades.js';
export { martLoss, type MartOptions } from './mart.js';
export { tradesAdversary, friendlyAdversary, awpPerturb, type TradesAdversaryOptions, type FriendlyAdversaryOptions, type AwpOptions, type AwpHandle } from './adversaries.js';
