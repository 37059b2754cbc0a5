// The 4 prompts the 2.7B text-encoder benches embed (big-text-encoder, big-text-profile, warm-jobs),
// so their figures compare: 16, 19, 16 and 17 GPT-2 tokens, one batch of 4 x 19 right padded.
export const PROMPTS = [
  'a chest radiograph showing right lower lobe pneumonia with consolidation',
  'no acute cardiopulmonary abnormality on this frontal chest x-ray',
  'small left pleural effusion and mild cardiomegaly are present',
  'findings consistent with pulmonary edema and bilateral interstitial opacities',
];
