#!/bin/sh
# Report 004, question 2.1 (../shared/seeds/004): ResNet-18 trained from scratch on CIFAR-10 (32x32) with the
# one-cycle learning-rate policy, weight decay and gradient clipping, 250 epochs. The report gives the policy
# ("a low learning rate, raised batch by batch for roughly 30 % of the epochs, then dropped to a very low
# value": --schedule onecycle, which rises over 30 % of the steps) and its grid's first point for question 2.2,
# max_lr 0.01, grad_clip 0.1 (each gradient element clamped: --clip-value), weight_decay 1e-4, with Adam and
# batches of 400 as in examples/tune/report004_grid.yaml. Its result: val_acc 0.7692 after epoch 250.
#
#   sh examples/training/report004_cifar10_resnet18.sh PATH-TO-CIFAR10 [RUN-FOLDER]
#
# PATH-TO-CIFAR10 is the cifar-10-batches-py folder or cifar-10-python.tar.gz, as
# https://www.cs.toronto.edu/~kriz/cifar.html publishes it; its test batch is the test split.
#
# Not measured on CIFAR-10 here: the archive is a download this machine cannot make. Measured on a stand-in
# only (CPU, 2 shared cores): the same options on cnncost's synthetic shapes at 32x32 (--data synthetic
# --synthetic-size 2000: 1,600 training, 400 validation, 500 test images, 10 classes) for 8 epochs reached
# test accuracy 50.4 % (0.5040; validation 0.5075 at epoch 8, still rising), 267 s of training steps. That is
# the shapes' figure after 32 steps, not CIFAR-10's after 250 epochs.
set -eu
DATA=${1:?give the CIFAR-10 folder or .tar.gz}
OUT=${2:-runs/report004-cifar10-resnet18}
cnncost train resnet18 --data "cifar10=$DATA" --img-size 32 --epochs 250 --batch-size 400 --optimizer adam \
    --lr 0.01 --schedule onecycle --weight-decay 0.0001 --clip-value 0.1 --out "$OUT"
