// A test binary that links tests/testing/counting_new.cc replaces every replaceable form of the
// global operator new/delete with one that counts allocations (through malloc/free, so that
// allocation and deallocation always match, also under ASan).
#ifndef RESIDENCY_TESTS_TESTING_COUNTING_NEW_H_
#define RESIDENCY_TESTS_TESTING_COUNTING_NEW_H_

namespace residency::testing {

// Allocations made through operator new so far, by every thread.
long AllocationCount();

}  // namespace residency::testing

#endif  // RESIDENCY_TESTS_TESTING_COUNTING_NEW_H_
