/*
 * mg_optim.h -- optimizer steps over an array of parameter nodes.
 *
 * The formulas are torch.optim's single-tensor ones in float64, operation
 * for operation where the order of rounding matters (lerp, addcmul, addcdiv
 * as ATen's CPU kernels write them).  micrograd/_optim_py.py mirrors every
 * function here, so both backends give the same bits.  The state buffers
 * (n doubles each) are owned by the caller.
 */
#ifndef MICROGRAD_MG_OPTIM_H
#define MICROGRAD_MG_OPTIM_H

#include <stddef.h>
#include "mg_graph.h"

typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov, maximize;
} mg_sgd_opts;

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    int amsgrad, maximize, decoupled;      /* decoupled: AdamW */
} mg_adam_opts;

typedef struct {
    double lr, alpha, eps, weight_decay, momentum;
    int centered, maximize;
} mg_rmsprop_opts;

typedef struct {
    double lr, lr_decay, weight_decay, eps;
    int maximize;
} mg_adagrad_opts;

/* buf_ready: 0 on the first step with momentum (the buffer starts as the
 * gradient, as torch's momentum_buffer does). */
void mg_sgd_step(mg_node *const *p, size_t n, double *buf, int buf_ready,
                 const mg_sgd_opts *o);
/* step: the step number after this one's increment (1 on the first step). */
void mg_adam_step(mg_node *const *p, size_t n, double *exp_avg, double *exp_avg_sq,
                  double *max_exp_avg_sq, double step, const mg_adam_opts *o);
void mg_rmsprop_step(mg_node *const *p, size_t n, double *square_avg, double *grad_avg,
                     double *buf, const mg_rmsprop_opts *o);
void mg_adagrad_step(mg_node *const *p, size_t n, double *state_sum, double step,
                     const mg_adagrad_opts *o);

#endif /* MICROGRAD_MG_OPTIM_H */
