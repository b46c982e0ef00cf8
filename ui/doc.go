// Package ui is zspy's terminal dashboard (tview), fed by tracker snapshots.
package ui
