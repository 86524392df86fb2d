/**
 * Float64 reference of the DPO margin loss (methods.md §1.3 and SPPD §3.1). For pair p:
 *   h = (policyChosen − refChosen) − (policyRejected − refRejected)
 *   sigmoid: z = β·h − margin_p;  loss = −(1−ε)·log σ(z) − ε·log σ(−z)
 *   ipo:     loss = (h − 1/(2β))²   (margin and ε unused; pass length-normalised sums)
 * Gradients are with respect to the POLICY sums only (the reference is frozen), times gradScale; since h
 * depends on policyChosen − policyRejected, gradRejected = −gradChosen.
 */

export type PreferenceLossType = 'sigmoid' | 'ipo';

export interface DpoRefInput {
  policyChosen: ArrayLike<number>;
  policyRejected: ArrayLike<number>;
  refChosen: ArrayLike<number>;
  refRejected: ArrayLike<number>;
  margin?: ArrayLike<number>;
  beta?: number;
  labelSmoothing?: number;
  lossType?: PreferenceLossType;
  gradScale?: number;
}

export interface DpoRefOutput {
  loss: Float64Array;
  gradChosen: Float64Array;
  gradRejected: Float64Array;
  /** Means over pairs; all 0 when there are no pairs. */
  meanLoss: number;
  /** Fraction of pairs whose chosen reward β(pc − rc) is strictly above the rejected reward β(pr − rr). */
  rewardAccuracy: number;
  chosenReward: number;
  rejectedReward: number;
  /** Mean β·h. */
  rewardMargin: number;
}

/** log σ(z) = min(z, 0) − log1p(exp(−|z|)): finite for every finite z (methods.md §1.3 numerics). */
export function logSigmoid(z: number): number {
  return Math.min(z, 0) - Math.log1p(Math.exp(-Math.abs(z)));
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export function dpoMarginRef(input: DpoRefInput): DpoRefOutput {
  const beta = input.beta ?? 0.1;
  const eps = input.labelSmoothing ?? 0;
  const type = input.lossType ?? 'sigmoid';
  const scale = input.gradScale ?? 1;
  const p = input.policyChosen.length;
  const out: DpoRefOutput = {
    loss: new Float64Array(p),
    gradChosen: new Float64Array(p),
    gradRejected: new Float64Array(p),
    meanLoss: 0,
    rewardAccuracy: 0,
    chosenReward: 0,
    rejectedReward: 0,
    rewardMargin: 0,
  };
  for (let i = 0; i < p; i++) {
    const chosen = input.policyChosen[i] - input.refChosen[i];
    const rejected = input.policyRejected[i] - input.refRejected[i];
    const h = chosen - rejected;
    let dLossDh: number;
    if (type === 'ipo') {
      const r = h - 1 / (2 * beta);
      out.loss[i] = r * r;
      dLossDh = 2 * r;
    } else {
      const z = beta * h - (input.margin ? input.margin[i] : 0);
      out.loss[i] = -(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z);
      // d/dz of −log σ(z) is −σ(−z); of −log σ(−z) is σ(z).
      dLossDh = beta * (-(1 - eps) * sigmoid(-z) + eps * sigmoid(z));
    }
    out.gradChosen[i] = scale * dLossDh;
    out.gradRejected[i] = -scale * dLossDh;
    out.meanLoss += out.loss[i] / p;
    out.rewardAccuracy += (beta * chosen > beta * rejected ? 1 : 0) / p;
    out.chosenReward += (beta * chosen) / p;
    out.rejectedReward += (beta * rejected) / p;
    out.rewardMargin += (beta * h) / p;
  }
  return out;
}
