// The viewer's one-click zero-shot, pure parts: predictions placed on the hanging (per viewport,
// per breast, per exam), judged against the labels at the same targets, and named for people.
import { describe, expect, it } from 'vitest';
import type { InstanceSummary, Label } from '../../../src/common/contract';
import type { Prediction } from '../../../src/common/runs';
import { assignHanging } from '../../../src/renderer/src/lib/viewer/hanging';
import { deviceName, disagreements, placePredictions, promptSetName, topText } from '../../../src/renderer/src/lib/viewer/classify';

function inst(id: number, laterality: string, viewPosition: string): InstanceSummary {
  return {
    id,
    sopInstanceUid: `1.${id}`,
    seriesUid: '1',
    filePath: `/x/${id}`,
    modality: 'MG',
    laterality,
    viewPosition,
    rows: 10,
    columns: 8,
    bitsStored: 12,
    photometric: 'MONOCHROME2',
    numberOfFrames: 1,
    transferSyntaxUid: null,
    presentationIntent: 'FOR PRESENTATION',
    manufacturer: null,
  };
}

let nextId = 1;
function pred(scope: Prediction['scope'], cls: string, over: Partial<Prediction> = {}): Prediction {
  const probabilities = { A: 0.1, B: 0.1, C: 0.1, D: 0.1, [cls]: 0.7 };
  return {
    id: nextId++,
    runId: 1,
    scope,
    studyId: 9,
    instanceId: null,
    laterality: null,
    view: null,
    predictedClass: cls,
    confidence: 0.7,
    probabilities,
    label: null,
    patientId: 'P',
    accession: null,
    studyDate: null,
    studyUid: '1.2.9',
    seriesUid: null,
    sopInstanceUid: null,
    ...over,
  };
}

function label(scope: Label['scope'], className: string, over: Partial<Label> = {}): Label {
  return {
    id: nextId++,
    taskId: 1,
    studyId: 9,
    scope,
    instanceId: null,
    laterality: null,
    className,
    annotator: 'a',
    createdAt: '',
    ...over,
  };
}

describe('placePredictions', () => {
  // An extra, retaken LCC (id 5) is imported later and wins the slot; 2 is the older LCC.
  const instances = [inst(1, 'R', 'CC'), inst(2, 'L', 'CC'), inst(3, 'R', 'MLO'), inst(4, 'L', 'MLO'), inst(5, 'L', 'CC')];
  const hanging = assignHanging(instances);
  const predictions = [
    pred('image', 'B', { instanceId: 1, laterality: 'R' }),
    pred('image', 'C', { instanceId: 2, laterality: 'L' }),
    pred('image', 'C', { instanceId: 5, laterality: 'L' }),
    pred('image', 'B', { instanceId: 3, laterality: 'R' }),
    pred('image', 'D', { instanceId: 4, laterality: 'L' }),
    pred('breast', 'B', { laterality: 'R' }),
    pred('breast', 'C', { laterality: 'L' }),
    pred('exam', 'C'),
  ];

  it('puts image predictions on the viewport showing that image, breasts by side, the exam apart', () => {
    const c = placePredictions(predictions, hanging, []);
    expect(
      Object.fromEntries(Object.entries(c.views).map(([slot, j]) => [slot, [j!.prediction.instanceId, j!.prediction.predictedClass]])),
    ).toEqual({
      RCC: [1, 'B'],
      LCC: [5, 'C'],
      RMLO: [3, 'B'],
      LMLO: [4, 'D'],
    });
    expect(c.offHanging).toBe(1);
    expect(c.breasts.R?.prediction.predictedClass).toBe('B');
    expect(c.breasts.L?.prediction.predictedClass).toBe('C');
    expect(c.exam?.prediction.predictedClass).toBe('C');
    expect(c.exam?.agrees).toBeNull();
    expect(disagreements(c)).toBe(0);
  });

  it('judges each target against its own label only', () => {
    const labels = [
      label('image', 'D', { instanceId: 4 }), // agrees with LMLO
      label('image', 'A', { instanceId: 1 }), // RCC says B
      label('breast', 'B', { laterality: 'L' }), // left breast says C
      label('breast', 'B', { laterality: 'R' }), // agrees
      label('exam', 'C'), // agrees
    ];
    const c = placePredictions(predictions, hanging, labels);
    expect([c.views.LMLO?.agrees, c.views.RCC?.agrees, c.views.LCC?.agrees, c.views.RMLO?.agrees]).toEqual([true, false, null, null]);
    expect(c.views.RCC?.label).toBe('A');
    expect([c.breasts.R?.agrees, c.breasts.L?.agrees, c.exam?.agrees]).toEqual([true, false, true]);
    expect(disagreements(c)).toBe(2);
  });
});

describe('names', () => {
  it('reads the device, the prompt set and the top class', () => {
    expect(deviceName('cpu')).toBe('CPU');
    expect(deviceName('cuda:1')).toBe('CUDA GPU 1');
    expect(deviceName('webgpu')).toBe('WebGPU GPU');
    expect(deviceName(null)).toBe('device not recorded');
    expect(promptSetName({ promptSet: null })).toBe('task prompt templates');
    expect(promptSetName({ promptSet: 'site' })).toBe('learned prompt set “site”');
    expect(topText(pred('exam', 'B', { confidence: 0.714 }))).toBe('B 71%');
  });
});
