/*
 * mg_optim.h -- optimizer steps over an array of parameter nodes.
 *
 * The formulas are torch.optim's single-tensor ones in float64, operation
 * for operation where the order of rounding matters (lerp, addcmul, addcdiv
 * as ATen's CPU kernels write them).  micrograd/_optim_py.py mirrors every
 * function here, so both backends give the same bits.
 *
 * Every step has one signature.  p[0..n) are the group's parameters as
 * listed, and idx[i] is p[i]'s index among the group's distinct parameters,
 * which own the state: the buffers (one double per distinct parameter each,
 * in the order micrograd/_optim_spec.py names them) and steps (how many
 * updates each has had: torch's state['step']; for SGD, how many momentum
 * updates, so that 0 means "no momentum buffer yet").  A parameter listed
 * twice is updated twice in a step, its one state advancing twice, as
 * torch.optim does.  The options record's fields are in the order of
 * micrograd/_optim_spec.py.  The caller owns every array.
 */
#ifndef MICROGRAD_MG_OPTIM_H
#define MICROGRAD_MG_OPTIM_H

#include <stddef.h>
#include "mg_graph.h"

typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov, maximize;
} mg_sgd_opts;                 /* buffers: momentum_buffer */

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    int amsgrad, maximize, decoupled;      /* decoupled: AdamW */
} mg_adam_opts;                /* buffers: exp_avg, exp_avg_sq, max_exp_avg_sq */

typedef struct {
    double lr, alpha, eps, weight_decay, momentum;
    int centered, maximize;
} mg_rmsprop_opts;             /* buffers: square_avg, grad_avg, momentum_buffer */

typedef struct {
    double lr, lr_decay, weight_decay, eps;
    int maximize;
} mg_adagrad_opts;             /* buffers: sum */

void mg_sgd_step(mg_node *const *p, const uint32_t *idx, size_t n, double *const *bufs,
                 double *steps, const mg_sgd_opts *o);
void mg_adam_step(mg_node *const *p, const uint32_t *idx, size_t n, double *const *bufs,
                  double *steps, const mg_adam_opts *o);
void mg_rmsprop_step(mg_node *const *p, const uint32_t *idx, size_t n, double *const *bufs,
                     double *steps, const mg_rmsprop_opts *o);
void mg_adagrad_step(mg_node *const *p, const uint32_t *idx, size_t n, double *const *bufs,
                     double *steps, const mg_adagrad_opts *o);

#endif /* MICROGRAD_MG_OPTIM_H */
