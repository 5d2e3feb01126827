import { hugePages } from '../../../src/daemon/huge-pages';
import type { HugePagesProbe } from '../../../src/daemon/huge-pages';

const probe = (over: Partial<HugePagesProbe>): HugePagesProbe => ({
  platform: 'linux',
  glibc: '2.36',
  tunables: undefined,
  thpMode: () => 'always [madvise] never\n',
  ...over,
});

describe('hugePages', () => {
  it('is on when the kernel grants them on request and glibc is asked, or when the kernel always grants them', () => {
    expect(hugePages(probe({ tunables: 'glibc.malloc.hugetlb=1' }))).toBe('on');
    expect(hugePages(probe({ tunables: 'glibc.malloc.check=0:glibc.malloc.hugetlb=1' }))).toBe('on');
    expect(hugePages(probe({ thpMode: () => '[always] madvise never\n' }))).toBe('on');
  });

  it('is off when the kernel would grant them but this process does not ask', () => {
    expect(hugePages(probe({}))).toBe('off');
    expect(hugePages(probe({ tunables: 'glibc.malloc.hugetlb=0' }))).toBe('off');
    expect(hugePages(probe({ tunables: 'glibc.malloc.hugetlb=10' }))).toBe('off');
  });

  it('is unavailable off Linux, without glibc, with THP never or unreadable', () => {
    expect(hugePages(probe({ platform: 'darwin' }))).toBe('unavailable');
    expect(hugePages(probe({ glibc: undefined, tunables: 'glibc.malloc.hugetlb=1' }))).toBe('unavailable');
    expect(hugePages(probe({ thpMode: () => 'always madvise [never]\n' }))).toBe('unavailable');
    expect(hugePages(probe({ thpMode: () => undefined }))).toBe('unavailable');
  });
});
