// The pieces of a QIDO-RS search that need no server: the --study-date grammar, the search path,
// and DICOM JSON reading (PN groups, IS as strings, lower-case tags).
import { describe, expect, it } from 'vitest';
import { int, str, strs } from '../../../../src/main/archive/dicom-json';
import { parseStudyDateRange, studySearchPath } from '../../../../src/main/archive/qido';

describe('QIDO-RS search parts', () => {
  it('reads --study-date as a range, an open range or one day, and refuses anything else with the reason', () => {
    expect(parseStudyDateRange('20240101-20240131')).toEqual({ studyDateFrom: '20240101', studyDateTo: '20240131' });
    expect(parseStudyDateRange('20240101-')).toEqual({ studyDateFrom: '20240101' });
    expect(parseStudyDateRange('-20240131')).toEqual({ studyDateTo: '20240131' });
    expect(parseStudyDateRange('20240229')).toEqual({ studyDateFrom: '20240229', studyDateTo: '20240229' });
    expect(() => parseStudyDateRange('2024-01-01')).toThrow('not a date range');
    expect(() => parseStudyDateRange('-')).toThrow('not a date range');
    expect(() => parseStudyDateRange('20230229')).toThrow('20230229 is not a date');
    expect(() => parseStudyDateRange('20240201-20240101')).toThrow('the range ends before it starts');
  });

  it('builds the QIDO-RS path with every filter, the limit and the extra fields', () => {
    expect(studySearchPath({ patientId: 'P 1*', accession: 'A&1', studyDateFrom: '20240101', modality: 'MG', limit: 5 })).toBe(
      'studies?PatientID=P+1*&AccessionNumber=A%261&StudyDate=20240101-&ModalitiesInStudy=MG&limit=5' +
        '&includefield=00081030&includefield=00080061&includefield=00201206&includefield=00201208',
    );
    expect(studySearchPath({})).toMatch(/^studies\?limit=100&/);
  });

  it('reads DICOM JSON values as archives write them', () => {
    const ds = {
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] },
      '00201208': { vr: 'IS', Value: ['12'] },
      '00080061': { vr: 'CS', Value: ['MG', 'SR'] },
      '0020000d': { vr: 'UI', Value: ['1.2.3'] },
      '00081030': { vr: 'LO' },
    };
    expect(str(ds, '00100010')).toBe('Doe^Jane');
    expect(int(ds, '00201208')).toBe(12);
    expect(strs(ds, '00080061')).toEqual(['MG', 'SR']);
    expect(str(ds, '0020000D')).toBe('1.2.3');
    expect(str(ds, '00081030')).toBeNull();
  });
});
