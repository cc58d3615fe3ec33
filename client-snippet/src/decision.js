/**
 * Every purpose of the policy with its value for a decision: required ones granted, optional
 * ones as the method says (accept_all grants all) or as chosen (custom, gpc). Under Global
 * Privacy Control marketing is refused whatever was chosen, and a choice it overrides is
 * recorded with method `gpc`, so the record shows why marketing is off.
 */
export function decide(config, method, chosen, gpc) {
  const purposes = {};
  for (const { id, required } of config.purposes) {
    purposes[id] = required || method == 'accept_all' || ((method == 'custom' || method == 'gpc') && chosen[id] === true);
  }
  if (gpc && purposes.marketing) {
    purposes.marketing = false;
    method = 'gpc';
  }
  return { method, purposes };
}

/**
 * GPC is an opt-out of sale/sharing where the law makes it one (CCPA regs §7025): a `ccpa`
 * site, or an `auto` site the service resolved to ccpa for this visitor.
 */
export const gpcApplies = (config, nav) => nav.globalPrivacyControl === true && config.jurisdiction == 'ccpa';
