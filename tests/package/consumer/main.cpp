// What a user writes: include the umbrella header and use the library.
#include <cstdio>
#include <vdiv/vdiv.hpp>

int main() {
  const vdiv::crop a{0, 0, 100, 100}, b{50, 50, 100, 100};
  const double overlap = vdiv::iou(a, b);
  std::printf("iou = %.4f\n", overlap);
  return (overlap > 0.14 && overlap < 0.15) ? 0 : 1;
}
